// Entry points: parse_config / load_config / read_config. The order of reading matters: "auto"
// keys are sorted out first (every unresolvable one in one message), then the sections, then the
// contradictions between the config and the command line (all in one message).
#include "zs/config/config.hpp"

#include "zs/config/config_json.hpp"
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

// The value at a dotted path of `doc`, or nullptr (also for null).
static const json* at_path(const json& doc, const std::string& path) {
  const json* node = &doc;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object()) return nullptr;
    auto it = node->find(part);
    if (it == node->end() || it->is_null()) return nullptr;
    node = &*it;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

// A command-line flag none of whose keys the config has changes nothing (the config's default
// applies), which would surprise the user when the default differs from the flag: say so.
// (--dtype offers fp16.enabled and bf16.enabled; it is used when either is in the config.)
static void warn_unused_flags(const json& doc, const AutoValues& autos, Config& cfg) {
  std::map<std::string, std::vector<std::pair<std::string, const AutoValue*>>> by_flag;
  for (const auto& [path, offered] : autos)
    if (!offered.explicit_flag.empty()) by_flag[offered.explicit_flag].push_back({path, &offered});
  const json resolved = resolved_json(cfg);
  for (const auto& [flag, uses] : by_flag) {
    bool used = false, same = true;
    for (const auto& [path, offered] : uses) {
      used = used || at_path(doc, path);
      const json* value = at_path(resolved, path);
      same = same && value && same_value(*value, offered->value);
    }
    if (used || same) continue;
    const auto& [path, offered] = uses.front();
    const std::string value = offered->shown.empty() ? value_text(offered->value) : offered->shown;
    // "gradient_clipping": "auto", or for a nested key "bf16": {"enabled": "auto"}.
    std::vector<std::string> parts;
    for (size_t start = 0, dot;; start = dot + 1) {
      dot = path.find('.', start);
      parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
    }
    std::string wanted = "\"" + parts.back() + "\": \"auto\"";
    for (size_t i = parts.size() - 1; i-- > 0;) wanted = "\"" + parts[i] + "\": {" + wanted + "}";
    cfg.warnings.push_back(flag + " " + value + " was given but the config has no " + path +
                           ", so it has no effect; write " + wanted + " in the config to use it");
  }
}

static Config read_unprefixed(const std::string& text, int world_size, const AutoValues& autos) {
  json doc = parse_config_json(text);
  if (!doc.is_object()) fail("the config must be a JSON object ({...}), got " + describe_json(doc));

  Config cfg;
  check_top_level_keys(doc, cfg);
  AutoResolver resolver(autos);
  resolver.classify(doc, read_top_level_keys());
  Section top(&doc, "", &resolver);
  read_batch(top, world_size, cfg);
  read_precision(top, cfg);
  read_optimizer(top, cfg);
  read_scheduler(top, cfg);
  read_top_level(top, cfg);
  read_zero(top, world_size, cfg);
  read_monitoring(top, cfg);
  resolver.finish(doc, cfg);

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
  return parse_config(read_config_text(path), world_size, autos, path);
}

}  // namespace zs
