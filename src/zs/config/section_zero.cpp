// zero_optimization: stage, communication buckets, stage-3 knobs and offload, with DeepSpeed's
// names, defaults and meanings. Sizes count elements and may be written as floats (5e8). As in
// DeepSpeed's schema, 0 is a valid size or threshold (see ZeroConfig), the stage-3 keys may also
// be written without their "stage3_" prefix, and the deprecated names (cpu_offload,
// cpu_offload_param, cpu_offload_use_pin_memory, stage3_gather_fp16_weights_on_model_save, and
// the boolean form with allgather_size) are read with a warning.
#include "zs/config/sections.hpp"

namespace zs::config_detail {

using nlohmann::json;

static int64_t read_positive(Section& s, const std::string& key, int64_t fallback) {
  int64_t v = s.get_int(key, fallback);
  require(v > 0, s.key_path(key), "a positive integer", std::to_string(v));
  return v;
}

static int64_t read_non_negative(Section& s, const std::string& key, int64_t fallback) {
  int64_t v = s.get_int(key, fallback);
  require(v >= 0, s.key_path(key), "at least 0", std::to_string(v));
  return v;
}

// A stage-3 key under its "stage3_" name or its plain name (DeepSpeed accepts both).
static int64_t read_stage3_size(Section& s, const std::string& name, int64_t fallback) {
  const std::string key = s.name_of("stage3_" + name, name);
  return key.empty() ? fallback : read_non_negative(s, key, fallback);
}

// DeepSpeed settings for features ZeroShard does not have (ZeRO++'s LoCo, MiCS, ZenFlow, tracing
// switches): accepted at DeepSpeed's default, refused otherwise, so none of them is ignored.
struct DeepSpeedOnly {
  const char* key;
  json default_value;
};
static const std::vector<DeepSpeedOnly>& deepspeed_only_zero_keys() {
  static const std::vector<DeepSpeedOnly> keys = {
      {"zeropp_loco_param", nullptr},
      {"mics_shard_size", -1},
      {"mics_hierarchical_params_gather", false},
      {"legacy_stage1", false},
      {"zenflow", nullptr},
      {"use_multi_rank_bucket_allreduce", true},
      {"stage3_model_persistence_threshold", int64_t(9223372036854775807)},
      {"model_persistence_threshold", int64_t(9223372036854775807)},
      {"stage3_module_granularity_threshold", 0},
      {"module_granularity_threshold", 0},
      {"stage3_use_all_reduce_for_fetch_params", false},
      {"use_all_reduce_for_fetch_params", false},
      {"stage3_allgather_sequential", false},
      {"allgather_sequential", false},
      {"memory_efficient_linear", true},
      {"override_module_apply", true},
      {"log_trace_cache_warnings", false},
      {"enable_sanity_checks", false},
      {"pipeline_loading_checkpoint", false},
      {"save_muon_momentum_buffer_in_memory", false},
  };
  return keys;
}

static void read_device(Section& s, OffloadConfig& o) {
  o.device = s.get_string("device", o.device);
  if (o.device != "none" && o.device != "cpu" && o.device != "nvme")
    fail(s.key_path("device") + " must be \"none\", \"cpu\" or \"nvme\", got \"" + o.device + "\"");
  o.nvme_path = s.get_string("nvme_path", o.nvme_path);
  if (o.device == "nvme" && o.nvme_path.empty())
    fail(s.key_path("nvme_path") + " is required when " + s.key_path("device") + " is \"nvme\"");
  o.pin_memory = s.get_bool("pin_memory", o.pin_memory);
}

static OffloadConfig read_offload_optimizer(Section& zero) {
  Section s = zero.child("offload_optimizer");
  s.allow_only({"device", "nvme_path", "pin_memory", "buffer_count", "ratio", "fast_init", "pipeline_read",
                "pipeline_write", "pipeline", "overlap_step", "super_offload", "cpuadam_cores_perc"});
  OffloadConfig o;
  o.buffer_count = 4;
  read_device(s, o);
  o.buffer_count = read_positive(s, "buffer_count", o.buffer_count);
  o.ratio = s.get_double("ratio", o.ratio);
  require(o.ratio >= 0 && o.ratio <= 1, s.key_path("ratio"), "between 0 and 1", number_text(o.ratio));
  o.fast_init = s.get_bool("fast_init", o.fast_init);
  bool pipeline = s.get_bool("pipeline", false);  // older name: both directions
  o.pipeline_read = s.get_bool("pipeline_read", pipeline);
  o.pipeline_write = s.get_bool("pipeline_write", pipeline);
  o.overlap_step = s.get_bool("overlap_step", o.overlap_step);
  if (o.overlap_step && !o.enabled())
    fail(s.key_path("overlap_step") + " needs " + s.key_path("device") + " \"cpu\" or \"nvme\"");
  o.super_offload = s.get_bool("super_offload", o.super_offload);
  if (o.super_offload && o.device != "cpu")
    fail(s.key_path("super_offload") + " needs " + s.key_path("device") + " \"cpu\"");
  if (s.has("cpuadam_cores_perc")) {
    const double cores = s.get_double("cpuadam_cores_perc", 0.8);
    require(cores > 0 && cores <= 1, s.key_path("cpuadam_cores_perc"), "above 0 and at most 1", number_text(cores));
    if (!o.super_offload && cores != 0.8)
      fail(s.key_path("cpuadam_cores_perc") + " sets the CPU Adam's share of the cores with " +
           s.key_path("super_offload") + " true, as in DeepSpeed; it is off here");
    o.cpuadam_cores_perc = cores;
  }
  return o;
}

static OffloadConfig read_offload_param(Section& zero) {
  Section s = zero.child("offload_param");
  s.allow_only({"device", "nvme_path", "pin_memory", "buffer_count", "buffer_size", "max_in_cpu"});
  OffloadConfig o;
  o.buffer_count = 5;
  read_device(s, o);
  o.buffer_count = read_positive(s, "buffer_count", o.buffer_count);
  o.buffer_size = read_positive(s, "buffer_size", o.buffer_size);
  o.max_in_cpu = read_non_negative(s, "max_in_cpu", o.max_in_cpu);
  return o;
}

// `zero_optimization: true/false` is DeepSpeed's oldest form: true means stage 1, with the
// all-gather bucket in the top-level "allgather_size".
static bool read_legacy_bool(Section& top, Config& cfg) {
  const nlohmann::json* v = top.find("zero_optimization");
  if (!v || !v->is_boolean()) {
    if (top.has("allgather_size"))
      fail("allgather_size belongs to the deprecated \"zero_optimization\": true form; use "
           "zero_optimization.allgather_bucket_size");
    return false;
  }
  cfg.zero.stage = v->get<bool>() ? 1 : 0;
  cfg.zero.allgather_bucket_size = read_non_negative(top, "allgather_size", cfg.zero.allgather_bucket_size);
  cfg.warnings.push_back("zero_optimization given as a boolean (deprecated); use {\"stage\": " +
                         std::to_string(cfg.zero.stage) + "}");
  return true;
}

// The deprecated switches for CPU offload: cpu_offload (offload_optimizer), cpu_offload_param
// (offload_param), cpu_offload_use_pin_memory (pinned buffers for both).
static void read_deprecated_offload(Section& s, Config& cfg) {
  ZeroConfig& z = cfg.zero;
  auto deprecated = [&](const std::string& old_key, const std::string& new_key) {
    if (s.has(new_key))
      fail(s.key_path(old_key) + " (deprecated) and " + s.key_path(new_key) + " are both given; keep only " + new_key);
    cfg.warnings.push_back(s.key_path(old_key) + " is deprecated; use \"" + new_key + "\": {\"device\": \"cpu\"}");
  };
  const auto pin = s.opt_bool("cpu_offload_use_pin_memory");
  if (s.get_bool("cpu_offload", false)) {
    deprecated("cpu_offload", "offload_optimizer");
    z.offload_optimizer.device = "cpu";
    z.offload_optimizer.pin_memory = pin.value_or(false);
  }
  if (s.get_bool("cpu_offload_param", false)) {
    deprecated("cpu_offload_param", "offload_param");
    z.offload_param.device = "cpu";
    z.offload_param.pin_memory = pin.value_or(false);
  }
  if (pin) {
    if (!s.get_bool("cpu_offload", false) && !s.get_bool("cpu_offload_param", false))
      fail(s.key_path("cpu_offload_use_pin_memory") + " (deprecated) needs cpu_offload or cpu_offload_param; "
           "use offload_optimizer.pin_memory or offload_param.pin_memory");
    cfg.warnings.push_back(s.key_path("cpu_offload_use_pin_memory") +
                           " is deprecated; use pin_memory in offload_optimizer / offload_param");
  }
}

// ZeRO++ (DeepSpeed's names and meaning; zero/unit_codec.hpp): quantized weight gathers (qwZ),
// quantized gradient reduction (qgZ) and the hierarchical secondary partition (hpZ). As in
// DeepSpeed they belong to stage 3.
static void read_zeropp(Section& s, int world_size, ZeroConfig& z) {
  z.zero_quantized_weights = s.get_bool("zero_quantized_weights", false);
  z.zero_quantized_gradients = s.get_bool("zero_quantized_gradients", false);
  z.zero_hpz_partition_size = s.get_int("zero_hpz_partition_size", 1);
  require(z.zero_hpz_partition_size >= 1, s.key_path("zero_hpz_partition_size"), "a positive integer (1: off)",
          std::to_string(z.zero_hpz_partition_size));
  if (s.get_bool("zero_quantized_nontrainable_weights", false))
    fail(s.key_path("zero_quantized_nontrainable_weights") +
         " true: frozen parameters are not partitioned in ZeroShard (every rank keeps them whole and never "
         "gathers them), so there is no gather to quantize; remove it (zero_quantized_weights covers the trained "
         "parameters)");
  if (z.stage != 3) {
    for (const char* key : {"zero_quantized_weights", "zero_quantized_gradients"})
      if (s.get_bool(key, false))
        fail(s.key_path(key) + " needs zero_optimization.stage 3, as in DeepSpeed (the stage is " +
             std::to_string(z.stage) + ")");
    if (z.zero_hpz_partition_size > 1)
      fail(s.key_path("zero_hpz_partition_size") + " " + std::to_string(z.zero_hpz_partition_size) +
           " needs zero_optimization.stage 3, as in DeepSpeed (the stage is " + std::to_string(z.stage) + ")");
    return;
  }
  if (z.zero_hpz_partition_size > 1 && world_size % z.zero_hpz_partition_size != 0)
    fail(s.key_path("zero_hpz_partition_size") + " " + std::to_string(z.zero_hpz_partition_size) +
         " does not divide the " + std::to_string(world_size) +
         " ranks; use the number of ranks per node (or another divisor of the world size)");
  if (z.zero_hpz_partition_size > 1 && z.offload_param.enabled())
    fail(s.key_path("zero_hpz_partition_size") + " " + std::to_string(z.zero_hpz_partition_size) + " with " +
         s.key_path("offload_param") + ": the secondary partition is a device copy of the parameter shards, which "
         "offload_param moves off the device; use one of them");
  if (z.zero_quantized_gradients && !z.reduce_scatter)
    fail(s.key_path("zero_quantized_gradients") + " reduces gradients by a quantized all-to-all reduce-scatter, but " +
         s.key_path("reduce_scatter") + " false asks for all-reduce; remove one of them");
}

void read_zero(Section& top, int world_size, Config& cfg) {
  if (read_legacy_bool(top, cfg)) return;
  Section s = top.child("zero_optimization");
  std::vector<std::string> known = {
      "stage", "overlap_comm", "contiguous_gradients", "reduce_scatter", "reduce_bucket_size",
      "allgather_bucket_size", "allgather_partitions", "round_robin_gradients", "stage3_prefetch_bucket_size",
      "prefetch_bucket_size", "stage3_param_persistence_threshold", "param_persistence_threshold",
      "stage3_max_live_parameters", "max_live_parameters", "stage3_max_reuse_distance", "max_reuse_distance",
      "stage3_gather_16bit_weights_on_model_save", "gather_16bit_weights_on_model_save",
      "stage3_gather_fp16_weights_on_model_save", "offload_optimizer", "offload_param", "sub_group_size",
      "elastic_checkpoint", "ignore_unused_parameters", "load_from_fp32_weights", "cpu_offload", "cpu_offload_param",
      "cpu_offload_use_pin_memory", "leaf_module", "zero_quantized_weights", "zero_quantized_gradients",
      "zero_quantized_nontrainable_weights", "zero_hpz_partition_size"};
  for (const auto& k : deepspeed_only_zero_keys()) known.push_back(k.key);
  s.allow_only(known);
  ZeroConfig& z = cfg.zero;
  int64_t stage = s.get_int("stage", z.stage);
  require(stage >= 0 && stage <= 3, s.key_path("stage"), "0, 1, 2 or 3", std::to_string(stage));
  z.stage = int(stage);

  z.overlap_comm = s.get_bool("overlap_comm", z.stage == 3);
  z.contiguous_gradients = s.get_bool("contiguous_gradients", z.contiguous_gradients);
  z.reduce_scatter = s.get_bool("reduce_scatter", z.reduce_scatter);
  z.reduce_bucket_size = read_non_negative(s, "reduce_bucket_size", z.reduce_bucket_size);
  z.allgather_bucket_size = read_non_negative(s, "allgather_bucket_size", z.allgather_bucket_size);
  z.allgather_partitions = s.get_bool("allgather_partitions", z.allgather_partitions);
  z.round_robin_gradients = s.get_bool("round_robin_gradients", z.round_robin_gradients);

  z.stage3_prefetch_bucket_size = read_stage3_size(s, "prefetch_bucket_size", z.stage3_prefetch_bucket_size);
  z.stage3_param_persistence_threshold =
      read_stage3_size(s, "param_persistence_threshold", z.stage3_param_persistence_threshold);
  z.stage3_max_live_parameters = read_stage3_size(s, "max_live_parameters", z.stage3_max_live_parameters);
  z.stage3_max_reuse_distance = read_stage3_size(s, "max_reuse_distance", z.stage3_max_reuse_distance);
  // The fp16 spelling is the older name of the same switch.
  const std::string gather_key = s.name_of("stage3_gather_16bit_weights_on_model_save", "gather_16bit_weights_on_model_save");
  std::optional<bool> gather16;
  if (!gather_key.empty()) gather16 = s.opt_bool(gather_key);
  auto gather_fp16 = s.opt_bool("stage3_gather_fp16_weights_on_model_save");
  if (gather_fp16) {
    if (gather16 && *gather16 != *gather_fp16)
      fail(s.key_path(gather_key) + " and its older name stage3_gather_fp16_weights_on_model_save disagree; keep one");
    cfg.warnings.push_back(s.key_path("stage3_gather_fp16_weights_on_model_save") +
                           " is deprecated; use stage3_gather_16bit_weights_on_model_save");
  }
  z.stage3_gather_16bit_weights_on_model_save = gather16.value_or(gather_fp16.value_or(false));

  z.sub_group_size = read_non_negative(s, "sub_group_size", z.sub_group_size);
  z.elastic_checkpoint = s.get_bool("elastic_checkpoint", z.elastic_checkpoint);
  z.ignore_unused_parameters = s.get_bool("ignore_unused_parameters", z.ignore_unused_parameters);
  if (!z.ignore_unused_parameters)
    fail(s.key_path("ignore_unused_parameters") + " false (stop on parameters that get no gradient) is not "
         "available in ZeroShard: a parameter without a gradient always counts as a zero gradient; remove it");
  z.load_from_fp32_weights = s.get_bool("load_from_fp32_weights", z.load_from_fp32_weights);
  if (!z.load_from_fp32_weights)
    fail(s.key_path("load_from_fp32_weights") + " false is not available in ZeroShard: a checkpoint always "
         "restores the fp32 master weights it holds; remove it");
  for (const auto& k : deepspeed_only_zero_keys()) refuse_unless_default(s, k.key, k.default_value);
  Section leaf = s.child("leaf_module");
  for (const auto& key : leaf.keys()) {
    const json* v = leaf.find(key);
    if (v && !(v->is_array() && v->empty()))
      fail(leaf.key_path(key) + ": ZeRO-3 leaf modules are a DeepSpeed setting ZeroShard does not have (its units "
           "are the modules the model marks); remove it");
  }

  z.offload_optimizer = read_offload_optimizer(s);
  z.offload_param = read_offload_param(s);
  read_deprecated_offload(s, cfg);

  if (z.offload_optimizer.enabled() && z.stage == 0)
    fail(s.key_path("offload_optimizer") + " needs zero_optimization.stage 1, 2 or 3 (the stage is 0)");
  if (z.offload_param.enabled() && z.stage != 3)
    fail(s.key_path("offload_param") + " needs zero_optimization.stage 3 (the stage is " +
         std::to_string(z.stage) + ")");
  // The host-resident 16-bit shards are written by the CPU optimizer step.
  if (z.offload_param.enabled() && z.stage == 3 && !z.offload_optimizer.enabled())
    fail(s.key_path("offload_param") + " needs zero_optimization.offload_optimizer too (device \"cpu\" or \"nvme\"): "
         "the parameter shards in host memory are updated by the optimizer step on the CPU");
  if (z.offload_optimizer.super_offload && z.stage != 3)
    fail(s.key_path("offload_optimizer") + ".super_offload needs zero_optimization.stage 3, as in DeepSpeed (the "
         "stage is " + std::to_string(z.stage) + "; at stages 1-2 offload_optimizer.overlap_step overlaps the update "
         "with the next forward)");
  if (z.offload_optimizer.super_offload && z.offload_param.device == "nvme")
    fail(s.key_path("offload_optimizer") + ".super_offload cannot start updates in backward while the parameter "
         "shards live in files (offload_param.device \"nvme\"); use offload_param \"cpu\" or \"none\"");
  read_zeropp(s, world_size, z);
}

}  // namespace zs::config_detail
