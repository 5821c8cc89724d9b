// zero_optimization: stage, communication buckets, stage-3 knobs and offload, with DeepSpeed's
// defaults. Sizes count elements, as in DeepSpeed, and may be written as floats (5e8).
#include "zs/config/sections.hpp"

namespace zs::config_detail {

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
                "pipeline_write", "pipeline", "overlap_step"});
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
  if (o.overlap_step && o.device != "cpu")
    fail(s.key_path("overlap_step") + " needs " + s.key_path("device") + " \"cpu\"");
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

// `zero_optimization: true/false` is DeepSpeed's oldest form: true means stage 1.
static bool read_legacy_bool(Section& top, Config& cfg) {
  const nlohmann::json* v = top.find("zero_optimization");
  if (!v || !v->is_boolean()) return false;
  cfg.zero.stage = v->get<bool>() ? 1 : 0;
  cfg.warnings.push_back("zero_optimization given as a boolean (deprecated); use {\"stage\": " +
                         std::to_string(cfg.zero.stage) + "}");
  return true;
}

void read_zero(Section& top, Config& cfg) {
  if (read_legacy_bool(top, cfg)) return;
  Section s = top.child("zero_optimization");
  s.allow_only({"stage", "overlap_comm", "contiguous_gradients", "reduce_scatter", "reduce_bucket_size",
                "allgather_bucket_size", "allgather_partitions", "round_robin_gradients",
                "stage3_prefetch_bucket_size", "stage3_param_persistence_threshold",
                "stage3_max_live_parameters", "stage3_max_reuse_distance",
                "stage3_gather_16bit_weights_on_model_save", "stage3_gather_fp16_weights_on_model_save",
                "offload_optimizer", "offload_param", "sub_group_size", "elastic_checkpoint",
                "ignore_unused_parameters", "load_from_fp32_weights", "cpu_offload"});
  ZeroConfig& z = cfg.zero;
  int64_t stage = s.get_int("stage", z.stage);
  require(stage >= 0 && stage <= 3, s.key_path("stage"), "0, 1, 2 or 3", std::to_string(stage));
  z.stage = int(stage);

  z.overlap_comm = s.get_bool("overlap_comm", z.stage == 3);
  z.contiguous_gradients = s.get_bool("contiguous_gradients", z.contiguous_gradients);
  z.reduce_scatter = s.get_bool("reduce_scatter", z.reduce_scatter);
  z.reduce_bucket_size = read_positive(s, "reduce_bucket_size", z.reduce_bucket_size);
  z.allgather_bucket_size = read_positive(s, "allgather_bucket_size", z.allgather_bucket_size);
  z.allgather_partitions = s.get_bool("allgather_partitions", z.allgather_partitions);
  z.round_robin_gradients = s.get_bool("round_robin_gradients", z.round_robin_gradients);

  z.stage3_prefetch_bucket_size = read_non_negative(s, "stage3_prefetch_bucket_size", z.stage3_prefetch_bucket_size);
  z.stage3_param_persistence_threshold =
      read_non_negative(s, "stage3_param_persistence_threshold", z.stage3_param_persistence_threshold);
  z.stage3_max_live_parameters = read_non_negative(s, "stage3_max_live_parameters", z.stage3_max_live_parameters);
  z.stage3_max_reuse_distance = read_non_negative(s, "stage3_max_reuse_distance", z.stage3_max_reuse_distance);
  // The fp16 spelling is the older name of the same switch.
  auto gather16 = s.opt_bool("stage3_gather_16bit_weights_on_model_save");
  auto gather_fp16 = s.opt_bool("stage3_gather_fp16_weights_on_model_save");
  if (gather16 && gather_fp16 && *gather16 != *gather_fp16)
    fail(s.key_path("stage3_gather_16bit_weights_on_model_save") + " and its older name "
         "stage3_gather_fp16_weights_on_model_save disagree; keep one");
  z.stage3_gather_16bit_weights_on_model_save = gather16.value_or(gather_fp16.value_or(false));

  z.sub_group_size = read_positive(s, "sub_group_size", z.sub_group_size);
  z.elastic_checkpoint = s.get_bool("elastic_checkpoint", z.elastic_checkpoint);
  z.ignore_unused_parameters = s.get_bool("ignore_unused_parameters", z.ignore_unused_parameters);
  z.load_from_fp32_weights = s.get_bool("load_from_fp32_weights", z.load_from_fp32_weights);

  z.offload_optimizer = read_offload_optimizer(s);
  z.offload_param = read_offload_param(s);
  // cpu_offload: true is the older way to write offload_optimizer.device "cpu" (pinned).
  if (s.get_bool("cpu_offload", false)) {
    if (s.has("offload_optimizer"))
      fail(s.key_path("cpu_offload") + " (deprecated) and " + s.key_path("offload_optimizer") +
           " are both given; keep only offload_optimizer");
    z.offload_optimizer.device = "cpu";
    z.offload_optimizer.pin_memory = true;
    cfg.warnings.push_back(s.key_path("cpu_offload") +
                           " is deprecated; use \"offload_optimizer\": {\"device\": \"cpu\", \"pin_memory\": true}");
  }

  if (z.offload_optimizer.enabled() && z.stage == 0)
    fail(s.key_path("offload_optimizer") + " needs zero_optimization.stage 1, 2 or 3 (the stage is 0)");
  if (z.offload_param.enabled() && z.stage != 3)
    fail(s.key_path("offload_param") + " needs zero_optimization.stage 3 (the stage is " +
         std::to_string(z.stage) + ")");
  // The host-resident 16-bit shards are written by the CPU optimizer step.
  if (z.offload_param.enabled() && z.stage == 3 && !z.offload_optimizer.enabled())
    fail(s.key_path("offload_param") + " needs zero_optimization.offload_optimizer too (device \"cpu\" or \"nvme\"): "
         "the parameter shards in host memory are updated by the optimizer step on the CPU");
}

}  // namespace zs::config_detail
