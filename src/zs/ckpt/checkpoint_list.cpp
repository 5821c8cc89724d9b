#include "zs/ckpt/checkpoint_list.hpp"

#include <algorithm>
#include <cctype>

#include "zs/ckpt/checkpoint_files.hpp"
#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/file_io.hpp"

namespace zs {

namespace {

int64_t step_of_name(const std::string& name) {
  const std::string prefix = "global_step";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  for (size_t i = prefix.size(); i < name.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  try {
    return std::stoll(name.substr(prefix.size()));
  } catch (const std::exception&) {
    return -1;
  }
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

std::string check_checkpoint(const std::string& dir, const std::string& tag, bool crc) {
  try {
    const CheckpointIndex index = read_checkpoint_index(dir, tag);
    CheckpointFiles files(dir, tag, index);
    for (const FileRecord& f : index.files) {
      const std::string path = join_path(join_path(dir, tag), f.name);
      const int64_t size = file_size_or_minus_one(path);
      std::string problem = size < 0 ? "missing" : size < f.bytes ? "truncated" : size > f.bytes ? "corrupted (size mismatch)" : "";
      if (problem.empty() && crc) problem = files.check_file(f);
      if (!problem.empty()) return "shard " + f.name + " is " + problem;
    }
    return "";
  } catch (const CheckpointError& e) {
    // read_checkpoint_index names "checkpoint <dir>/<tag>"; the listing names the tag already.
    std::string what = e.what();
    const std::string prefix = "checkpoint " + join_path(dir, tag);
    if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
    while (!what.empty() && (what[0] == ':' || what[0] == ' ')) what.erase(0, 1);
    if (what.rfind("/index.json", 0) == 0) what = "index.json" + what.substr(11);
    return what;
  }
}

std::vector<CheckpointTagState> list_checkpoints(const std::string& dir, bool verify_newest_sound) {
  std::vector<CheckpointTagState> out;
  if (!is_directory(dir)) return out;
  for (const std::string& name : list_directory(dir)) {
    const std::string path = join_path(dir, name);
    if (!is_directory(path) || name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos) continue;
    const bool has_index = path_exists(join_path(path, "index.json"));
    if (!has_index && step_of_name(name) < 0) continue;
    CheckpointTagState s;
    s.tag = name;
    s.global_steps = step_of_name(name);
    s.problem = check_checkpoint(dir, name, false);
    if (s.problem.empty()) {
      try {
        s.global_steps = read_checkpoint_index(dir, name).counters.global_steps;
      } catch (const CheckpointError&) {
      }
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const CheckpointTagState& a, const CheckpointTagState& b) {
    return a.global_steps != b.global_steps ? a.global_steps > b.global_steps : a.tag > b.tag;
  });
  if (verify_newest_sound) {
    for (CheckpointTagState& s : out) {
      if (!s.problem.empty()) continue;
      s.problem = check_checkpoint(dir, s.tag, true);
      s.verified = true;
      if (s.problem.empty()) break;
    }
  }
  return out;
}

std::string describe_checkpoints(const std::string& dir, const std::string& pick_flag) {
  if (!path_exists(dir)) return "There is no folder " + dir + ".";
  if (!is_directory(dir)) return dir + " is a file, not a folder of checkpoints.";
  const std::vector<CheckpointTagState> tags = list_checkpoints(dir, true);
  if (tags.empty()) return "There are no checkpoints in " + dir + ".";
  std::string text = "Checkpoints in " + dir + ", newest first:";
  const CheckpointTagState* sound = nullptr;
  for (const CheckpointTagState& s : tags) {
    text += "\n  " + s.tag;
    if (s.global_steps >= 0) text += " (step " + std::to_string(s.global_steps) + ")";
    if (!s.problem.empty()) {
      text += ": damaged: " + s.problem;
    } else if (s.verified) {
      text += ": sound (all files checked)";
      if (!sound) sound = &s;
    } else {
      text += ": index and file sizes ok";
    }
  }
  if (sound) {
    text += "\nThe newest sound checkpoint is " + sound->tag + "; to resume from it: " + pick_flag + "=" + sound->tag;
  } else {
    text += "\nNone of them is sound.";
  }
  return text;
}

std::string choose_resume_tag(const std::string& dir, const std::string& tag, const std::string& pick_flag) {
  if (!is_directory(dir))
    throw CheckpointError("no checkpoint to resume from: " + dir + " does not exist" +
                          (path_exists(dir) ? " as a directory" : ""));
  std::string chosen = tag, why;
  const std::string latest = join_path(dir, "latest");
  if (chosen.empty()) {
    if (!path_exists(latest)) {
      why = latest + " does not exist";
    } else {
      chosen = trimmed(read_text_file(latest));
      if (chosen.empty()) why = latest + " is empty";
    }
  }
  if (why.empty()) {
    const std::string problem = check_checkpoint(dir, chosen, false);
    if (problem.empty()) return chosen;
    const std::string what = problem == "does not exist" ? "does not exist" : "is damaged (" + problem + ")";
    why = tag.empty() ? latest + " names " + chosen + ", which " + what : join_path(dir, chosen) + " " + what;
  }
  throw CheckpointError("cannot resume: " + why + ".\n" + describe_checkpoints(dir, pick_flag));
}

}  // namespace zs
