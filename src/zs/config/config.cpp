// Entry points: parse_config / load_config / read_config, the top-level scalar keys and the check
// of top-level key names.
#include "zs/config/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "zs/config/sections.hpp"
#include "zs/config/unbuilt_features.hpp"

namespace zs {

using namespace config_detail;
using nlohmann::json;

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::fp16: return "fp16";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

// Top-level keys ZeroShard reads.
static const std::vector<std::string> kReadKeys = {
    "train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "fp16", "bf16",
    "bfloat16", "communication_data_type", "optimizer", "scheduler", "gradient_clipping",
    "prescale_gradients", "gradient_predivide_factor", "steps_per_print", "wall_clock_breakdown",
    "memory_breakdown", "zero_optimization", "activation_checkpointing", "flops_profiler", "tensorboard",
    "csv_monitor", "wandb", "zero_allow_untested_optimizer", "zero_force_ds_cpu_optimizer"};

// DeepSpeed features that change what training computes. ZeroShard has none of them, so using one
// is an error rather than a silently different run. (Presence alone counts for sparse_attention.)
static const std::vector<std::string> kTrainingChangingKeys = {
    "amp", "sparse_gradients", "sparse_attention", "elasticity", "compression_training", "data_efficiency",
    "curriculum_learning", "progressive_layer_drop", "quantize_training", "hybrid_engine", "pipeline",
    "eigenvalue"};

// DeepSpeed settings that only affect tooling or performance paths ZeroShard does not have.
static const std::vector<std::string> kIgnoredDeepSpeedKeys = {
    "aio", "checkpoint", "comms_logger", "dump_state", "autotuning", "nebula", "data_types", "timers",
    "disable_allgather", "seq_parallel_communication_data_type", "graph_harvesting", "comet",
    "use_data_before_expert_parallelism", "zero_optimization_stage", "fp32_allreduce"};

static bool is_used(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_object()) {
    auto enabled = v.find("enabled");
    return enabled == v.end() || (enabled->is_boolean() && enabled->get<bool>());
  }
  return !v.is_null();
}

static void check_top_level_keys(const json& doc, Config& cfg) {
  auto contains = [](const std::vector<std::string>& list, const std::string& key) {
    return std::find(list.begin(), list.end(), key) != list.end();
  };
  for (const auto& item : doc.items()) {
    const std::string& key = item.key();
    if (contains(kReadKeys, key)) continue;
    if (contains(kTrainingChangingKeys, key)) {
      if (is_used(item.value()))
        fail(key + ": this DeepSpeed feature is not supported by ZeroShard; remove the \"" + key +
             "\" section");
      continue;  // present but disabled: harmless
    }
    if (contains(kIgnoredDeepSpeedKeys, key)) {
      cfg.warnings.push_back(key + ": a DeepSpeed setting ZeroShard does not use; ignored");
      continue;
    }
    std::string warning = key + ": unknown top-level key, ignored";
    std::string suggestion = closest_name(key, kReadKeys);
    if (!suggestion.empty()) warning += "; did you mean \"" + suggestion + "\"?";
    cfg.warnings.push_back(warning);
  }
}

static void read_top_level_scalars(Section& top, Config& cfg) {
  cfg.gradient_clipping = top.get_double("gradient_clipping", cfg.gradient_clipping);
  require(cfg.gradient_clipping >= 0, "gradient_clipping", "at least 0 (0 turns clipping off)",
          number_text(cfg.gradient_clipping));
  cfg.prescale_gradients = top.get_bool("prescale_gradients", cfg.prescale_gradients);
  cfg.gradient_predivide_factor = top.get_double("gradient_predivide_factor", cfg.gradient_predivide_factor);
  require(cfg.gradient_predivide_factor > 0, "gradient_predivide_factor", "greater than 0",
          number_text(cfg.gradient_predivide_factor));
  cfg.steps_per_print = top.get_int("steps_per_print", cfg.steps_per_print);
  require(cfg.steps_per_print > 0, "steps_per_print", "a positive integer", std::to_string(cfg.steps_per_print));
  cfg.wall_clock_breakdown = top.get_bool("wall_clock_breakdown", cfg.wall_clock_breakdown);
  cfg.memory_breakdown = top.get_bool("memory_breakdown", cfg.memory_breakdown);
  // All of ZeroShard's optimizers work with every stage, so these switches change nothing.
  top.get_bool("zero_allow_untested_optimizer", false);
  top.get_bool("zero_force_ds_cpu_optimizer", false);
}

// A command-line flag whose key the config does not have changes nothing (the config's default
// applies), which would surprise the user: say so.
static void warn_unused_flags(const json& doc, const AutoValues& autos, Config& cfg) {
  for (const auto& [path, offered] : autos) {
    if (offered.explicit_flag.empty()) continue;
    const json* node = &doc;
    size_t start = 0;
    while (node && start <= path.size()) {
      size_t dot = path.find('.', start);
      std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      auto it = node->is_object() ? node->find(part) : node->end();
      node = (node->is_object() && it != node->end()) ? &*it : nullptr;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (!node || node->is_null())
      cfg.warnings.push_back(offered.explicit_flag + " " + offered.value.dump() + " was given but the config has no " +
                             path + ", so it has no effect; write \"" + path.substr(path.rfind('.') + 1) +
                             "\": \"auto\" in the config to use it");
  }
}

static json parse_json(const std::string& text) {
  try {
    return json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    std::string what = e.what();
    auto start = what.find("] ");
    fail("invalid JSON: " + (start == std::string::npos ? what : what.substr(start + 2)));
  }
}

static Config read_unprefixed(const std::string& text, int world_size, const AutoValues& autos) {
  json doc = parse_json(text);
  if (!doc.is_object()) fail("the config must be a JSON object ({...}), got " + describe_json(doc));

  Config cfg;
  Section top(&doc, "", &autos);
  check_top_level_keys(doc, cfg);
  read_batch(top, world_size, cfg);
  read_precision(top, cfg);
  read_optimizer(top, cfg);
  read_scheduler(top, cfg);
  read_top_level_scalars(top, cfg);
  read_zero(top, cfg);
  read_monitoring(top, cfg);

  warn_unused_flags(doc, autos, cfg);
  doc["train_batch_size"] = cfg.train_batch_size;
  doc["train_micro_batch_size_per_gpu"] = cfg.train_micro_batch_size_per_gpu;
  doc["gradient_accumulation_steps"] = cfg.gradient_accumulation_steps;
  cfg.raw = std::move(doc);
  return cfg;
}

static ConfigError with_source(const std::string& source_name, const ConfigError& e) {
  return ConfigError(source_name + ": " + e.what());
}

Config read_config(const std::string& json_text, int world_size, const AutoValues& autos,
                   const std::string& source_name) {
  try {
    return read_unprefixed(json_text, world_size, autos);
  } catch (const ConfigError& e) {
    throw with_source(source_name, e);
  }
}

Config parse_config(const std::string& json_text, int world_size, const AutoValues& autos,
                    const std::string& source_name) {
  Config cfg = read_config(json_text, world_size, autos, source_name);
  try {
    reject_unbuilt_features(cfg);
  } catch (const ConfigError& e) {
    throw with_source(source_name, e);
  }
  return cfg;
}

Config load_config(const std::string& path, int world_size, const AutoValues& autos) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot open config file " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError("cannot read config file " + path + ": " + std::strerror(errno));
  return parse_config(text.str(), world_size, autos, path);
}

}  // namespace zs
