// "auto" in a DeepSpeed config, resolved as Hugging Face's Trainer and DeepSpeed do it:
//   - a value the program offers (its flags, its defaults, the model's hidden size) fills it;
//   - in the sections DeepSpeed reads through its schema (zero_optimization, fp16, bf16, the
//     monitors), DeepSpeed drops "auto" and its default applies;
//   - train_batch_size, train_micro_batch_size_per_gpu and gradient_accumulation_steps follow the
//     batch rule when the others say enough;
//   - anything else cannot be resolved, and every such key is reported in one message.
#include <algorithm>
#include <cmath>

#include "zs/config/reader.hpp"

namespace zs {

using nlohmann::json;

AutoValue flag_value(json value, const std::string& flag, bool given, const std::string& shown) {
  AutoValue v;
  v.value = std::move(value);
  v.explicit_flag = given ? flag : "";
  v.shown = shown;
  v.origin = given ? "" : "default of " + flag;
  return v;
}

void add_model_auto_values(AutoValues& autos, int64_t hidden_size) {
  if (hidden_size <= 0) return;
  const std::string h = std::to_string(hidden_size);
  const auto offer = [&](const std::string& path, int64_t value, const std::string& formula) {
    AutoValue v;
    v.value = value;
    v.origin = "model: hidden size " + h + ", " + formula;
    autos.emplace(path, std::move(v));
  };
  offer("zero_optimization.reduce_bucket_size", hidden_size * hidden_size, h + "²");
  offer("zero_optimization.stage3_prefetch_bucket_size", int64_t(0.9 * double(hidden_size * hidden_size)),
        "0.9·" + h + "²");
  offer("zero_optimization.stage3_param_persistence_threshold", 10 * hidden_size, "10·" + h);
}

namespace config_detail {

// Sections DeepSpeed validates through its schema classes, which drop "auto" (the default applies).
static const std::vector<std::string> kSchemaSections = {"zero_optimization", "fp16",       "bf16",
                                                         "bfloat16",          "tensorboard", "csv_monitor",
                                                         "wandb",             "comet",       "comms_logger"};

static const std::vector<std::string> kBatchKeys = {"train_batch_size", "train_micro_batch_size_per_gpu",
                                                    "gradient_accumulation_steps"};

// What to write for keys that have no value here (what Hugging Face's Trainer fills them from).
static std::string hint_for(const std::string& path) {
  static const std::vector<std::pair<std::string, std::string>> hints = {
      {"optimizer.params.lr", "the learning rate"},
      {"optimizer.params.betas", "[beta1, beta2], e.g. [0.9, 0.999]"},
      {"optimizer.params.eps", "e.g. 1e-8"},
      {"optimizer.params.weight_decay", "e.g. 0.01, or 0 for none"},
      {"scheduler.params.warmup_min_lr", "the lr warmup starts from, e.g. 0"},
      {"scheduler.params.warmup_max_lr", "the lr warmup ends at, usually optimizer.params.lr"},
      {"scheduler.params.warmup_num_steps", "optimizer steps of warmup"},
      {"scheduler.params.total_num_steps", "optimizer steps of the whole run"},
      {"gradient_clipping", "the largest gradient norm, or 0 for none (Hugging Face's default is 1.0)"},
      {"train_batch_size", "samples per optimizer step over all ranks"},
      {"train_micro_batch_size_per_gpu", "samples per rank per micro-step"},
      {"gradient_accumulation_steps", "micro-steps per optimizer step"},
      {"steps_per_print", "optimizer steps between log lines"},
  };
  for (const auto& [key, hint] : hints)
    if (key == path) return hint;
  return "";
}

static bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

static void collect_autos(const json& node, const std::string& path, std::vector<std::string>& out) {
  if (node.is_string() && node.get<std::string>() == "auto") out.push_back(path);
  if (!node.is_object()) return;
  for (const auto& item : node.items()) collect_autos(item.value(), path.empty() ? item.key() : path + "." + item.key(), out);
}

const AutoValue* AutoResolver::offer(const std::string& path) const {
  auto it = offered_.find(path);
  return it == offered_.end() ? nullptr : &it->second;
}

void AutoResolver::classify(const json& doc, const std::vector<std::string>& read_keys) {
  std::vector<std::string> autos, unresolved;
  collect_autos(doc, "", autos);
  // The batch rule can derive the rest once train_batch_size or the micro batch is known.
  bool batch_known = false;
  for (const char* key : {"train_batch_size", "train_micro_batch_size_per_gpu"}) {
    auto it = doc.find(key);
    if (it != doc.end() && !it->is_null() && (!(it->is_string() && *it == "auto") || offer(key))) batch_known = true;
  }
  for (const auto& path : autos) {
    const std::string top = path.substr(0, path.find('.'));
    if (!contains(read_keys, top) || offer(path)) continue;
    if (contains(kBatchKeys, path)) {
      if (batch_known) absent_.insert(path);
      else unresolved.push_back(path);
    } else if (contains(kSchemaSections, top) && path != top) {
      absent_.insert(path);
      defaulted_.insert(path);
    } else {
      unresolved.push_back(path);
    }
  }
  if (unresolved.empty()) return;
  auto line = [](const std::string& path) {
    const std::string hint = hint_for(path);
    return path + (hint.empty() ? "" : ": " + hint);
  };
  if (unresolved.size() == 1)
    fail(unresolved[0] + " is \"auto\" but this program has no value for it; set it in the config" +
         (hint_for(unresolved[0]).empty() ? "" : " (" + hint_for(unresolved[0]) + ")"));
  std::string message = std::to_string(unresolved.size()) +
                        " keys are \"auto\" but this program has no value for them; set each in the config:";
  for (const auto& path : unresolved) message += "\n  " + line(path);
  fail(message);
}

void AutoResolver::record(const std::string& path, const json& value, const std::string& origin) {
  if (!recorded_.insert(path).second) return;
  resolved_.push_back({path, value, origin});
}

void AutoResolver::conflict(const std::string& path, const json& config_value, const AutoValue& offered) {
  const std::string line = path + " is " + value_text(config_value) + " in the config but " + offered.explicit_flag +
                           " " + (offered.shown.empty() ? value_text(offered.value) : offered.shown) +
                           " was given on the command line";
  if (std::find(conflicts_.begin(), conflicts_.end(), line) == conflicts_.end()) conflicts_.push_back(line);
}

// The value at a dotted path of `doc`, or nullptr.
static json* at_path(json& doc, const std::string& path) {
  json* node = &doc;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object()) return nullptr;
    auto it = node->find(part);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

void AutoResolver::finish(json& doc, Config& cfg) {
  if (conflicts_.size() == 1) fail(conflicts_[0]);
  if (!conflicts_.empty()) {
    std::string message = std::to_string(conflicts_.size()) +
                          " config values contradict flags given on the command line (make them \"auto\" "
                          "in the config, or leave the flags out):";
    for (const auto& line : conflicts_) message += "\n  " + line;
    fail(message);
  }
  json resolved = resolved_json(cfg);
  for (const auto& path : defaulted_) {
    // "bfloat16" is read as "bf16"; the deprecated names have no place of their own there.
    std::string canonical = path.rfind("bfloat16.", 0) == 0 ? "bf16" + path.substr(8) : path;
    const json* value = at_path(resolved, canonical);
    json* slot = at_path(doc, path);
    if (slot) *slot = value ? *value : json();
    record(path, value ? *value : json(), "DeepSpeed's default");
  }
  std::stable_sort(resolved_.begin(), resolved_.end(),
                   [](const AutoResolution& a, const AutoResolution& b) { return a.path < b.path; });
  cfg.autos_resolved = resolved_;
}

}  // namespace config_detail
}  // namespace zs
