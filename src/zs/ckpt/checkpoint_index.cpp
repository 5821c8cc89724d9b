#include "zs/ckpt/checkpoint_index.hpp"

#include <algorithm>

#include "zs/ckpt/file_io.hpp"

namespace zs {

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
  if (!j.is_object() || j.value("format", "") != kCheckpointFormatName)
    throw CheckpointError(where + " is not a ZeroShard checkpoint index");
  CheckpointIndex x;
  try {
    x.format_version = j.at("format_version").get<int>();
    if (x.format_version != kCheckpointFormatVersion)
      throw CheckpointError(where + " has format version " + std::to_string(x.format_version) +
                            "; this build reads version " + std::to_string(kCheckpointFormatVersion));
    x.tag = j.at("tag").get<std::string>();
    x.world_size = j.at("world_size").get<int>();
    x.stage = j.at("zero_stage").get<int>();
    x.precision = j.at("precision").get<std::string>();
    x.master_dtype = j.at("master_dtype").get<std::string>();
    x.optimizer = j.at("optimizer").at("type").get<std::string>();
    x.optimizer_state_keys = j.at("optimizer").at("state_keys").get<std::vector<std::string>>();
    x.config = j.at("config");
    const auto& c = j.at("counters");
    x.counters.global_steps = c.at("global_steps").get<int64_t>();
    x.counters.micro_steps = c.at("micro_steps").get<int64_t>();
    x.counters.skipped_steps = c.at("skipped_steps").get<int64_t>();
    x.counters.scheduler_steps = c.at("scheduler_steps").get<int64_t>();
    x.counters.optimizer_steps = c.at("optimizer_steps").get<int64_t>();
    const auto& s = j.at("loss_scaler");
    x.loss_scaler_enabled = s.at("enabled").get<bool>();
    x.loss_scaler.scale = s.at("scale").get<double>();
    x.loss_scaler.iteration = s.at("iteration").get<int64_t>();
    x.loss_scaler.last_overflow_iteration = s.at("last_overflow_iteration").get<int64_t>();
    x.loss_scaler.hysteresis_left = s.at("hysteresis_left").get<int>();
    for (const auto& p : j.at("parameters")) {
      ParamRecord r;
      r.name = p.at("name").get<std::string>();
      r.shape = p.at("shape").get<std::vector<int64_t>>();
      for (const auto& sl : p.at("slices"))
        r.slices.push_back({sl.at("file").get<std::string>(), sl.at("begin").get<int64_t>(), sl.at("end").get<int64_t>()});
      x.params.push_back(std::move(r));
    }
    x.module_tensors = j.at("module_tensors").get<std::vector<std::string>>();
    for (const auto& f : j.at("files"))
      x.files.push_back({f.at("name").get<std::string>(), f.at("rank").get<int>(), f.at("bytes").get<int64_t>(),
                         f.at("crc32").get<uint32_t>()});
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
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(where + ": index.json is corrupted (" + e.what() + ")");
  }
  return CheckpointIndex::from_json(doc, where + "/index.json");
}

}  // namespace zs
