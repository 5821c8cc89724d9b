// The top level of the config: which DeepSpeed keys ZeroShard reads, which it refuses (they would
// change what training computes, or ask for tooling this build does not have), which it ignores
// with a warning, and the top-level scalar settings.
#include <algorithm>

#include "zs/config/sections.hpp"

namespace zs::config_detail {

using nlohmann::json;

// Top-level keys ZeroShard reads (the sections' readers and read_top_level below).
static const std::vector<std::string> kReadKeys = {
    "train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "fp16", "bf16",
    "bfloat16", "communication_data_type", "fp32_allreduce", "optimizer", "scheduler", "gradient_clipping",
    "prescale_gradients", "gradient_predivide_factor", "gradient_allreduce_op", "data_types", "steps_per_print",
    "wall_clock_breakdown", "memory_breakdown", "zero_optimization", "allgather_size", "activation_checkpointing",
    "flops_profiler", "tensorboard", "csv_monitor", "wandb", "comet", "comms_logger",
    "zero_allow_untested_optimizer", "zero_force_ds_cpu_optimizer"};

const std::vector<std::string>& read_top_level_keys() { return kReadKeys; }

// DeepSpeed features that change what training computes. ZeroShard has none of them, so using one
// is an error rather than a silently different run. (Presence alone counts for sparse_attention.)
static const std::vector<std::string> kTrainingChangingKeys = {
    "amp", "sparse_gradients", "sparse_attention", "elasticity", "compression_training", "data_efficiency",
    "curriculum_learning", "progressive_layer_drop", "quantize_training", "hybrid_engine", "pipeline",
    "eigenvalue", "torch_autocast", "weight_quantization", "expert_parallel"};

// DeepSpeed tools that would produce something (tuning runs, checkpoint services, state dumps,
// CUDA graphs) that this build does not have: refused when switched on.
static const std::vector<std::string> kUnbuiltTools = {"autotuning", "nebula", "datastates", "graph_harvesting",
                                                       "dump_state"};

// DeepSpeed settings of paths ZeroShard does not have; they change nothing here.
static const std::vector<std::string> kIgnoredDeepSpeedKeys = {
    "aio", "checkpoint", "timers", "disable_allgather", "seq_parallel_communication_data_type",
    "use_data_before_expert_parallelism", "dataloader_drop_last", "vocabulary_size", "log_level",
    "managed_gradient_accumulation"};

static bool contains(const std::vector<std::string>& list, const std::string& key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

// A section or switch that asks for its feature: true, or an object whose "enabled" is absent or
// true; for tensor_parallel an autotp_size above 1, for compile "deepcompile": true.
static bool is_used(const std::string& key, const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_object()) {
    auto number = [&](const char* name) {
      auto it = v.find(name);
      return it != v.end() && it->is_number() ? it->get<double>() : 1.0;
    };
    if (key == "tensor_parallel") return number("autotp_size") > 1 || number("tp_size") > 1;
    if (key == "compile") return v.contains("deepcompile") && v["deepcompile"] == true;
    auto enabled = v.find("enabled");
    return enabled == v.end() || (enabled->is_boolean() && enabled->get<bool>());
  }
  return !v.is_null();
}

void check_top_level_keys(const json& doc, Config& cfg) {
  for (const auto& item : doc.items()) {
    const std::string& key = item.key();
    if (contains(kReadKeys, key)) continue;
    if (contains(kTrainingChangingKeys, key) || key == "tensor_parallel" || key == "compile") {
      if (is_used(key, item.value()))
        fail(key + ": this DeepSpeed feature is not supported by ZeroShard; remove the \"" + key + "\" section");
      continue;  // present but disabled: harmless
    }
    if (contains(kUnbuiltTools, key)) {
      if (is_used(key, item.value()))
        fail(key + " is not available in ZeroShard yet; remove it or switch it off (" +
             (item.value().is_boolean() ? "false" : "\"enabled\": false") + ")");
      continue;
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

// data_types.grad_accum_dtype: ZeroShard accumulates gradients in the training precision.
static void read_data_types(Section& top, const Config& cfg) {
  Section s = top.child("data_types");
  s.allow_only({"grad_accum_dtype", "param_dtype", "buffer_dtype"});
  for (const char* key : {"grad_accum_dtype", "param_dtype", "buffer_dtype"}) {
    auto name = s.opt_string(key);
    if (!name) continue;
    auto dtype = canonical_dtype(*name);
    if (std::string(key) == "grad_accum_dtype" && dtype && *dtype == precision_name(cfg.precision)) continue;
    fail(s.key_path(key) + " \"" + *name + "\" is not available in ZeroShard: gradients accumulate and parameters "
         "live in the training precision (" + precision_name(cfg.precision) + "); remove it");
  }
}

void read_top_level(Section& top, Config& cfg) {
  cfg.gradient_clipping = top.get_double("gradient_clipping", cfg.gradient_clipping);
  require(cfg.gradient_clipping >= 0, "gradient_clipping", "at least 0 (0 turns clipping off)",
          number_text(cfg.gradient_clipping));
  cfg.prescale_gradients = top.get_bool("prescale_gradients", cfg.prescale_gradients);
  cfg.gradient_predivide_factor = top.get_double("gradient_predivide_factor", cfg.gradient_predivide_factor);
  require(cfg.gradient_predivide_factor > 0, "gradient_predivide_factor", "greater than 0",
          number_text(cfg.gradient_predivide_factor));
  const std::string op = top.get_string("gradient_allreduce_op", "mean");
  if (op == "sum")
    fail("gradient_allreduce_op \"sum\" is not available in ZeroShard: gradients are averaged over ranks "
         "(\"mean\"); remove it");
  if (op != "mean") fail("gradient_allreduce_op must be \"mean\" or \"sum\", got \"" + op + "\"");
  cfg.steps_per_print = top.get_int("steps_per_print", cfg.steps_per_print);
  require(cfg.steps_per_print > 0, "steps_per_print", "a positive integer", std::to_string(cfg.steps_per_print));
  cfg.wall_clock_breakdown = top.get_bool("wall_clock_breakdown", cfg.wall_clock_breakdown);
  cfg.memory_breakdown = top.get_bool("memory_breakdown", cfg.memory_breakdown);
  // All of ZeroShard's optimizers work with every stage, and its CPU step is its own: these
  // permissions change nothing.
  top.get_bool("zero_allow_untested_optimizer", false);
  top.get_bool("zero_force_ds_cpu_optimizer", true);
  // fp32_allreduce (an older DeepSpeed switch) is communication_data_type "fp32".
  if (top.get_bool("fp32_allreduce", false)) {
    if (cfg.communication_data_type && *cfg.communication_data_type != "fp32")
      fail("fp32_allreduce true and communication_data_type \"" + *cfg.communication_data_type +
           "\" disagree; keep communication_data_type");
    cfg.communication_data_type = "fp32";
    cfg.warnings.push_back("fp32_allreduce is deprecated; use \"communication_data_type\": \"fp32\"");
  }
  read_data_types(top, cfg);
}

}  // namespace zs::config_detail
