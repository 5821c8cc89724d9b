#include "zs/ckpt/checkpoint_index.hpp"

#include <algorithm>
#include <limits>

#include "zs/ckpt/file_io.hpp"

namespace zs {

namespace {

// An integer field of the index as a T. Only JSON integers in T's range are taken: a float, a
// string or an out-of-range number makes the index malformed (get<int>() of 1e30 would be
// undefined behaviour, and a wrapped value would pass for a sound one).
template <class T>
T integer(const nlohmann::json& value, const char* key, const std::string& where) {
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u <= uint64_t(std::numeric_limits<T>::max())) return T(u);
  } else if (value.is_number_integer()) {
    const int64_t i = value.get<int64_t>();
    if (i >= int64_t(std::numeric_limits<T>::min()) && uint64_t(std::max<int64_t>(i, 0)) <= uint64_t(std::numeric_limits<T>::max()))
      return T(i);
  }
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  throw CheckpointError(where + " is malformed: " + key + " must be an integer that fits, got " + text);
}

template <class T>
T integer_at(const nlohmann::json& object, const char* key, const std::string& where) {
  return integer<T>(object.at(key), key, where);
}

}  // namespace

int64_t ParamRecord::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shard_file_name(int rank, int world_size) {
  return "rank_" + std::to_string(rank) + "_of_" + std::to_string(world_size) + ".safetensors";
}

std::string default_tag(int64_t global_steps) { return "global_step" + std::to_string(global_steps); }

nlohmann::json CheckpointIndex::to_json() const {
  nlohmann::json j;
  j["format"] = kCheckpointFormatName;
  j["format_version"] = format_version;
  j["tag"] = tag;
  j["world_size"] = world_size;
  j["zero_stage"] = stage;
  j["precision"] = precision;
  j["master_dtype"] = master_dtype;
  j["optimizer"] = {{"type", optimizer}, {"state_keys", optimizer_state_keys}};
  j["config"] = config;
  j["counters"] = {{"global_steps", counters.global_steps},       {"micro_steps", counters.micro_steps},
                   {"skipped_steps", counters.skipped_steps},     {"scheduler_steps", counters.scheduler_steps},
                   {"optimizer_steps", counters.optimizer_steps}};
  j["loss_scaler"] = {{"enabled", loss_scaler_enabled},
                      {"scale", loss_scaler.scale},
                      {"iteration", loss_scaler.iteration},
                      {"last_overflow_iteration", loss_scaler.last_overflow_iteration},
                      {"hysteresis_left", loss_scaler.hysteresis_left}};
  j["parameters"] = nlohmann::json::array();
  for (const ParamRecord& p : params) {
    nlohmann::json slices = nlohmann::json::array();
    for (const SliceRef& s : p.slices) slices.push_back({{"file", s.file}, {"begin", s.begin}, {"end", s.end}});
    j["parameters"].push_back({{"name", p.name}, {"shape", p.shape}, {"dtype", master_dtype}, {"slices", slices}});
  }
  j["module_tensors"] = module_tensors;
  j["files"] = nlohmann::json::array();
  for (const FileRecord& f : files)
    j["files"].push_back({{"name", f.name}, {"rank", f.rank}, {"bytes", f.bytes}, {"crc32", f.crc32}});
  j["client_state"] = client_state;
  return j;
}

CheckpointIndex CheckpointIndex::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("format") || j["format"] != kCheckpointFormatName)
    throw CheckpointError(where + " is not a ZeroShard checkpoint index");
  CheckpointIndex x;
  try {
    x.format_version = integer_at<int>(j, "format_version", where);
    if (x.format_version != kCheckpointFormatVersion)
      throw CheckpointError(where + " has format version " + std::to_string(x.format_version) +
                            "; this build reads version " + std::to_string(kCheckpointFormatVersion));
    x.tag = j.at("tag").get<std::string>();
    x.world_size = integer_at<int>(j, "world_size", where);
    x.stage = integer_at<int>(j, "zero_stage", where);
    x.precision = j.at("precision").get<std::string>();
    x.master_dtype = j.at("master_dtype").get<std::string>();
    x.optimizer = j.at("optimizer").at("type").get<std::string>();
    x.optimizer_state_keys = j.at("optimizer").at("state_keys").get<std::vector<std::string>>();
    x.config = j.at("config");
    const auto& c = j.at("counters");
    x.counters.global_steps = integer_at<int64_t>(c, "global_steps", where);
    x.counters.micro_steps = integer_at<int64_t>(c, "micro_steps", where);
    x.counters.skipped_steps = integer_at<int64_t>(c, "skipped_steps", where);
    x.counters.scheduler_steps = integer_at<int64_t>(c, "scheduler_steps", where);
    x.counters.optimizer_steps = integer_at<int64_t>(c, "optimizer_steps", where);
    const auto& s = j.at("loss_scaler");
    x.loss_scaler_enabled = s.at("enabled").get<bool>();
    x.loss_scaler.scale = s.at("scale").get<double>();
    x.loss_scaler.iteration = integer_at<int64_t>(s, "iteration", where);
    x.loss_scaler.last_overflow_iteration = integer_at<int64_t>(s, "last_overflow_iteration", where);
    x.loss_scaler.hysteresis_left = integer_at<int>(s, "hysteresis_left", where);
    for (const auto& p : j.at("parameters")) {
      ParamRecord r;
      r.name = p.at("name").get<std::string>();
      const auto& shape = p.at("shape");
      if (!shape.is_array()) throw CheckpointError(where + " is malformed: the shape of " + r.name + " is not an array");
      int64_t numel = 1;
      for (const auto& d : shape) {
        r.shape.push_back(integer<int64_t>(d, "a shape's size", where));
        if (r.shape.back() < 0 || (numel != 0 && __builtin_mul_overflow(numel, r.shape.back(), &numel)))
          throw CheckpointError(where + " is malformed: the shape of " + r.name + " has a negative size or too many elements");
      }
      for (const auto& sl : p.at("slices"))
        r.slices.push_back({sl.at("file").get<std::string>(), integer_at<int64_t>(sl, "begin", where),
                            integer_at<int64_t>(sl, "end", where)});
      x.params.push_back(std::move(r));
    }
    x.module_tensors = j.at("module_tensors").get<std::vector<std::string>>();
    for (const auto& f : j.at("files"))
      x.files.push_back({f.at("name").get<std::string>(), integer_at<int>(f, "rank", where),
                         integer_at<int64_t>(f, "bytes", where), integer_at<uint32_t>(f, "crc32", where)});
    x.client_state = j.value("client_state", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(where + " is malformed: " + e.what());
  }
  // Every parameter's slices must cover it exactly once, from files the index lists.
  for (ParamRecord& p : x.params) {
    std::sort(p.slices.begin(), p.slices.end(), [](const SliceRef& a, const SliceRef& b) { return a.begin < b.begin; });
    int64_t next = 0;
    for (const SliceRef& sl : p.slices) {
      if (sl.begin != next || sl.end < sl.begin || !x.find_file(sl.file))
        throw CheckpointError(where + " is malformed: the slices of " + p.name + " do not cover it exactly once");
      next = sl.end;
    }
    if (next != p.numel()) throw CheckpointError(where + " is malformed: the slices of " + p.name + " do not cover it");
  }
  return x;
}

const ParamRecord* CheckpointIndex::find_param(const std::string& name) const {
  for (const ParamRecord& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

const FileRecord* CheckpointIndex::find_file(const std::string& name) const {
  for (const FileRecord& f : files)
    if (f.name == name) return &f;
  return nullptr;
}

std::string resolve_tag(const std::string& dir, const std::string& tag) {
  if (!tag.empty()) return tag;
  const std::string latest = join_path(dir, "latest");
  if (!path_exists(latest)) throw CheckpointError("no checkpoint in " + dir + " (" + latest + " does not exist)");
  std::string text = read_text_file(latest);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) throw CheckpointError(latest + " is empty");
  return text;
}

CheckpointIndex read_checkpoint_index(const std::string& dir, const std::string& tag) {
  const std::string where = "checkpoint " + join_path(dir, tag);
  const std::string path = join_path(join_path(dir, tag), "index.json");
  if (!is_directory(join_path(dir, tag))) throw CheckpointError(where + " does not exist");
  if (!path_exists(path)) throw CheckpointError(where + ": index.json is missing");
  return parse_checkpoint_index(read_text_file(path), where + "/index.json");
}

CheckpointIndex parse_checkpoint_index(const std::string& text, const std::string& where) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(where + " is corrupted (" + e.what() + ")");
  }
  return CheckpointIndex::from_json(doc, where);
}

}  // namespace zs
