// The resolved configuration, as a document in DeepSpeed's layout and as DeepSpeed's engine prints
// it at start: one "key ....... value" line per setting (every section, defaults included), where
// each "auto" came from, then the user's JSON with "auto" replaced by the values used.
#include <algorithm>

#include "zs/config/reader.hpp"

namespace zs {

using nlohmann::json;

static json optional_string(const std::optional<std::string>& s) { return s ? json(*s) : json(); }

static json offload_json(const OffloadConfig& o, bool optimizer) {
  json j = {{"device", o.device},
            {"nvme_path", o.nvme_path.empty() ? json() : json(o.nvme_path)},
            {"pin_memory", o.pin_memory},
            {"buffer_count", o.buffer_count}};
  if (optimizer) {
    j["ratio"] = o.ratio;
    j["fast_init"] = o.fast_init;
    j["pipeline_read"] = o.pipeline_read;
    j["pipeline_write"] = o.pipeline_write;
    j["overlap_step"] = o.overlap_step;
    j["super_offload"] = o.super_offload;
    if (o.cpuadam_cores_perc) j["cpuadam_cores_perc"] = *o.cpuadam_cores_perc;
  } else {
    j["buffer_size"] = o.buffer_size;
    j["max_in_cpu"] = o.max_in_cpu;
  }
  return j;
}

static json scheduler_json(const SchedulerConfig& s) {
  json p;
  if (s.type == "WarmupLR" || s.type == "WarmupDecayLR") {
    p = {{"warmup_min_lr", s.warmup_min_lr},
         {"warmup_max_lr", s.warmup_max_lr},
         {"warmup_num_steps", s.warmup_num_steps},
         {"warmup_type", s.warmup_type}};
    if (s.type == "WarmupDecayLR") p["total_num_steps"] = s.total_num_steps;
  } else if (s.type == "WarmupCosineLR") {
    p = {{"warmup_min_ratio", s.warmup_min_ratio},
         {"cos_min_ratio", s.cos_min_ratio},
         {"warmup_num_steps", s.warmup_num_steps},
         {"warmup_type", s.warmup_type},
         {"total_num_steps", s.total_num_steps}};
  } else {
    p = {{"cycle_min_lr", s.cycle_min_lr},
         {"cycle_max_lr", s.cycle_max_lr},
         {"decay_lr_rate", s.decay_lr_rate},
         {"cycle_first_step_size", s.cycle_first_step_size},
         {"cycle_second_step_size", s.cycle_second_step_size == -1 ? json() : json(s.cycle_second_step_size)},
         {"cycle_first_stair_count", s.cycle_first_stair_count},
         {"cycle_second_stair_count", s.cycle_second_stair_count == -1 ? json() : json(s.cycle_second_stair_count)},
         {"decay_step_size", s.decay_step_size},
         {"cycle_momentum", s.cycle_momentum},
         {"cycle_min_mom", s.cycle_min_mom},
         {"cycle_max_mom", s.cycle_max_mom},
         {"decay_mom_rate", s.decay_mom_rate}};
  }
  p["last_batch_iteration"] = s.last_batch_iteration;
  return {{"type", s.type}, {"params", p}};
}

static json optimizer_json(const OptimizerConfig& o) {
  json p = {{"lr", o.lr}, {"weight_decay", o.weight_decay}};
  if (o.type == "SGD") {
    p["momentum"] = o.momentum;
    p["dampening"] = o.dampening;
    p["nesterov"] = o.nesterov;
  } else if (o.type == "Lion") {
    p["betas"] = {o.beta1, o.beta2};
  } else if (o.type == "Adagrad") {
    p["eps"] = o.eps;
    p["lr_decay"] = o.lr_decay;
  } else {
    p["betas"] = {o.beta1, o.beta2};
    p["eps"] = o.eps;
    p["adam_w_mode"] = o.adam_w_mode;
    p["torch_adam"] = o.torch_adam;
  }
  return {{"type", o.type}, {"params", p}};
}

json resolved_json(const Config& c) {
  const ZeroConfig& z = c.zero;
  const LossScaleConfig& ls = c.loss_scale;
  const ActivationCheckpointingConfig& a = c.activation_checkpointing;
  const FlopsProfilerConfig& f = c.flops_profiler_options;
  json j;
  j["train_batch_size"] = c.train_batch_size;
  j["train_micro_batch_size_per_gpu"] = c.train_micro_batch_size_per_gpu;
  j["gradient_accumulation_steps"] = c.gradient_accumulation_steps;
  j["steps_per_print"] = c.steps_per_print;
  j["gradient_clipping"] = c.gradient_clipping;
  j["prescale_gradients"] = c.prescale_gradients;
  j["gradient_predivide_factor"] = c.gradient_predivide_factor;
  j["communication_data_type"] = optional_string(c.communication_data_type);
  j["wall_clock_breakdown"] = c.wall_clock_breakdown;
  j["memory_breakdown"] = c.memory_breakdown;
  j["fp16"] = {{"enabled", c.precision == Precision::fp16},
               {"loss_scale", ls.static_scale},
               {"initial_scale_power", ls.initial_scale_power},
               {"loss_scale_window", ls.loss_scale_window},
               {"hysteresis", ls.hysteresis},
               {"consecutive_hysteresis", ls.consecutive_hysteresis},
               {"min_loss_scale", ls.min_loss_scale}};
  j["bf16"] = {{"enabled", c.precision == Precision::bf16}};
  j["optimizer"] = optimizer_json(c.optimizer);
  j["scheduler"] = c.scheduler ? scheduler_json(*c.scheduler) : json();
  j["zero_optimization"] = {{"stage", z.stage},
                            {"overlap_comm", z.overlap_comm},
                            {"contiguous_gradients", z.contiguous_gradients},
                            {"reduce_scatter", z.reduce_scatter},
                            {"reduce_bucket_size", z.reduce_bucket_size},
                            {"allgather_bucket_size", z.allgather_bucket_size},
                            {"allgather_partitions", z.allgather_partitions},
                            {"round_robin_gradients", z.round_robin_gradients},
                            {"stage3_prefetch_bucket_size", z.stage3_prefetch_bucket_size},
                            {"stage3_param_persistence_threshold", z.stage3_param_persistence_threshold},
                            {"stage3_max_live_parameters", z.stage3_max_live_parameters},
                            {"stage3_max_reuse_distance", z.stage3_max_reuse_distance},
                            {"stage3_gather_16bit_weights_on_model_save", z.stage3_gather_16bit_weights_on_model_save},
                            {"sub_group_size", z.sub_group_size},
                            {"elastic_checkpoint", z.elastic_checkpoint},
                            {"ignore_unused_parameters", z.ignore_unused_parameters},
                            {"load_from_fp32_weights", z.load_from_fp32_weights},
                            {"offload_optimizer", offload_json(z.offload_optimizer, true)},
                            {"offload_param", offload_json(z.offload_param, false)},
                            {"zero_quantized_weights", z.zero_quantized_weights},
                            {"zero_quantized_gradients", z.zero_quantized_gradients},
                            {"zero_hpz_partition_size", z.zero_hpz_partition_size}};
  j["activation_checkpointing"] = {
      {"partition_activations", a.partition_activations},
      {"cpu_checkpointing", a.cpu_checkpointing},
      {"contiguous_memory_optimization", a.contiguous_memory_optimization},
      {"number_checkpoints", a.number_checkpoints == -1 ? json() : json(a.number_checkpoints)},
      {"synchronize_checkpoint_boundary", a.synchronize_checkpoint_boundary},
      {"profile", a.profile}};
  j["flops_profiler"] = {{"enabled", f.enabled},           {"recompute_fwd_factor", f.recompute_fwd_factor},
                         {"profile_step", f.profile_step}, {"module_depth", f.module_depth},
                         {"top_modules", f.top_modules},   {"detailed", f.detailed},
                         {"output_file", f.output_file.empty() ? json() : json(f.output_file)}};
  for (const auto& [name, m] : {std::pair<const char*, const MonitorConfig*>{"tensorboard", &c.tensorboard},
                                {"csv_monitor", &c.csv_monitor}}) {
    j[name] = {{"enabled", m->enabled}, {"output_path", m->output_path}, {"job_name", m->job_name}};
  }
  j["wandb"] = {{"enabled", c.wandb.enabled},
                {"team", c.wandb.team.empty() ? json() : json(c.wandb.team)},
                {"group", c.wandb.group.empty() ? json() : json(c.wandb.group)},
                {"project", c.wandb.project}};
  j["comet"] = {{"enabled", c.comet.enabled}};
  const CommsLoggerConfig& cl = c.comms_logger_options;
  j["comms_logger"] = {{"enabled", c.comms_logger}, {"verbose", cl.verbose}, {"prof_all", cl.prof_all},
                       {"debug", cl.debug},         {"prof_ops", cl.prof_ops}};
  return j;
}

namespace {

// Settings ZeroShard accepts with DeepSpeed's meaning that change nothing here, and why.
const char* note_for(const std::string& path) {
  static const std::vector<std::pair<std::string, const char*>> notes = {
      {"zero_optimization.contiguous_gradients", "gradients are always reduced from one flat buffer here"},
      {"zero_optimization.allgather_partitions", "updated parameters are always all-gathered here"},
      {"zero_optimization.round_robin_gradients", "a DeepSpeed copy-order tuning; no effect here"},
      {"zero_optimization.sub_group_size", "the optimizer step here runs one bucket or unit at a time"},
      {"zero_optimization.elastic_checkpoint", "checkpoints load at any world size here"},
      {"optimizer.params.torch_adam", "the same Adam math either way"},
      {"activation_checkpointing.number_checkpoints", "used by contiguous_memory_optimization only, as in DeepSpeed"},
  };
  for (const auto& [key, note] : notes)
    if (key == path) return note;
  return nullptr;
}

void flatten(const json& node, const std::string& path, std::vector<std::pair<std::string, json>>& out) {
  if (node.is_object() && !node.empty()) {
    for (const auto& item : node.items()) flatten(item.value(), path.empty() ? item.key() : path + "." + item.key(), out);
    return;
  }
  out.push_back({path, node});
}

std::string dotted(const std::string& key, size_t width) {
  return key + " " + std::string(std::max<size_t>(3, width - key.size()), '.') + " ";
}

}  // namespace

std::string describe_config(const Config& c, const std::string& prefix) {
  std::vector<std::pair<std::string, json>> lines;
  flatten(resolved_json(c), "", lines);
  std::sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t width = 0;
  for (const auto& [key, value] : lines) width = std::max(width, key.size() + 3);

  std::string out = prefix + "DeepSpeed configuration (resolved; defaults included):\n";
  for (const auto& [key, value] : lines) {
    out += prefix + "  " + dotted(key, width) + config_detail::value_text(value);
    if (const char* note = note_for(key)) out += "  (" + std::string(note) + ")";
    out += "\n";
  }
  if (!c.autos_resolved.empty()) {
    out += prefix + "\"auto\" values:\n";
    for (const auto& r : c.autos_resolved)
      out += prefix + "  " + dotted(r.path, width) + config_detail::value_text(r.value) + "  <- " + r.origin + "\n";
  }
  std::string user = c.raw.is_object() ? c.raw.dump(4) : std::string("{}");
  out += prefix + "  json = ";
  for (char ch : user) {
    out += ch;
    if (ch == '\n') out += prefix + "  ";
  }
  out += "\n";
  return out;
}

}  // namespace zs
