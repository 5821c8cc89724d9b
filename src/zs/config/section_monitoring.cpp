// activation_checkpointing, flops_profiler, the monitor writers (tensorboard, csv_monitor, wandb,
// comet) and comms_logger. tensorboard and csv_monitor are written by the engine's metric sinks
// (monitor/metric_sinks.hpp); what this build cannot do is refused by reject_unbuilt_features
// (unbuilt_features.cpp).
#include "zs/config/sections.hpp"

namespace zs::config_detail {

static void read_activation_checkpointing(Section& top, Config& cfg) {
  Section s = top.child("activation_checkpointing");
  s.allow_only({"partition_activations", "cpu_checkpointing", "contiguous_memory_optimization",
                "number_checkpoints", "synchronize_checkpoint_boundary", "profile"});
  ActivationCheckpointingConfig& a = cfg.activation_checkpointing;
  a.present = s.exists();
  a.partition_activations = s.get_bool("partition_activations", a.partition_activations);
  a.cpu_checkpointing = s.get_bool("cpu_checkpointing", a.cpu_checkpointing);
  a.contiguous_memory_optimization = s.get_bool("contiguous_memory_optimization", a.contiguous_memory_optimization);
  a.number_checkpoints = s.get_int("number_checkpoints", a.number_checkpoints);
  require(a.number_checkpoints > 0 || a.number_checkpoints == -1, s.key_path("number_checkpoints"),
          "a positive integer (or null)", std::to_string(a.number_checkpoints));
  a.synchronize_checkpoint_boundary = s.get_bool("synchronize_checkpoint_boundary", a.synchronize_checkpoint_boundary);
  a.profile = s.get_bool("profile", a.profile);
  if (a.cpu_checkpointing && !a.partition_activations)
    fail(s.key_path("cpu_checkpointing") + " needs partition_activations true");
}

static void read_flops_profiler(Section& top, Config& cfg) {
  Section s = top.child("flops_profiler");
  s.allow_only({"enabled", "recompute_fwd_factor", "profile_step", "module_depth", "top_modules", "detailed",
                "output_file"});
  FlopsProfilerConfig& f = cfg.flops_profiler_options;
  f.enabled = s.get_bool("enabled", f.enabled);
  f.recompute_fwd_factor = s.get_double("recompute_fwd_factor", f.recompute_fwd_factor);
  require(f.recompute_fwd_factor >= 0, s.key_path("recompute_fwd_factor"), "at least 0",
          number_text(f.recompute_fwd_factor));
  f.profile_step = s.get_int("profile_step", f.profile_step);
  require(f.profile_step >= 1, s.key_path("profile_step"), "a positive integer", std::to_string(f.profile_step));
  f.module_depth = s.get_int("module_depth", f.module_depth);
  require(f.module_depth >= -1, s.key_path("module_depth"), "-1 (all) or at least 0",
          std::to_string(f.module_depth));
  f.top_modules = s.get_int("top_modules", f.top_modules);
  require(f.top_modules >= 1, s.key_path("top_modules"), "a positive integer", std::to_string(f.top_modules));
  f.detailed = s.get_bool("detailed", f.detailed);
  f.output_file = s.get_string("output_file", f.output_file);
  cfg.flops_profiler = f.enabled;
}

static void read_writer(Section& top, const std::string& name, MonitorConfig& m) {
  Section s = top.child(name);
  s.allow_only({"enabled", "output_path", "job_name"});
  m.enabled = s.get_bool("enabled", m.enabled);
  m.output_path = s.get_string("output_path", m.output_path);
  m.job_name = s.get_string("job_name", m.job_name);
  require(!m.job_name.empty(), s.key_path("job_name"), "a non-empty string", "\"\"");
}

static void read_wandb(Section& top, MonitorConfig& m) {
  Section s = top.child("wandb");
  s.allow_only({"enabled", "team", "group", "project"});
  m.enabled = s.get_bool("enabled", m.enabled);
  m.team = s.get_string("team", m.team);
  m.group = s.get_string("group", m.group);
  m.project = s.get_string("project", m.project);
}

static void read_comet(Section& top, MonitorConfig& m) {
  Section s = top.child("comet");
  s.allow_only({"enabled", "samples_log_interval", "project", "workspace", "api_key", "experiment_name",
                "experiment_key", "online", "mode"});
  m.enabled = s.get_bool("enabled", m.enabled);
  m.project = s.get_string("project", "");
}

// DeepSpeed's names of the collectives (torch.distributed's) and ZeroShard's, as prof_ops may give them.
static std::string collective_name(const std::string& name) {
  if (name == "all_gather_into_tensor" || name == "all_gather_base" || name == "allgather_fn") return "all_gather";
  if (name == "reduce_scatter_tensor" || name == "reduce_scatter_base" || name == "reduce_scatter_fn")
    return "reduce_scatter";
  if (name == "all_reduce" || name == "all_gather" || name == "reduce_scatter" || name == "broadcast") return name;
  return "";
}

static void read_comms_logger(Section& top, Config& cfg) {
  Section s = top.child("comms_logger");
  s.allow_only({"enabled", "verbose", "prof_all", "debug", "prof_ops"});
  CommsLoggerConfig& c = cfg.comms_logger_options;
  c.enabled = s.get_bool("enabled", c.enabled);
  c.verbose = s.get_bool("verbose", c.verbose);
  c.prof_all = s.get_bool("prof_all", c.prof_all);
  c.debug = s.get_bool("debug", c.debug);
  if (const nlohmann::json* ops = s.find("prof_ops")) {
    require(ops->is_array(), s.key_path("prof_ops"), "a list of collective names", value_text(*ops));
    for (const auto& op : *ops) {
      const std::string name = op.is_string() ? collective_name(op.get<std::string>()) : "";
      require(!name.empty(), s.key_path("prof_ops"),
              "names among all_reduce, reduce_scatter (reduce_scatter_tensor), all_gather (all_gather_into_tensor), "
              "broadcast",
              value_text(op));
      c.prof_ops.push_back(name);
    }
  }
  if (c.enabled && c.debug)
    fail(s.key_path("debug") + ": ZeroShard cannot add the calling function's name to each collective (C++ keeps "
         "no caller names); set it to false (the log names each collective's type and size)");
  if (c.enabled && !c.prof_all && c.prof_ops.empty())
    fail(s.key_path("prof_all") + " false with no prof_ops would log nothing; name the collectives in prof_ops or "
         "set prof_all true");
  cfg.comms_logger = c.enabled;
}

void read_monitoring(Section& top, Config& cfg) {
  read_activation_checkpointing(top, cfg);
  read_flops_profiler(top, cfg);
  read_writer(top, "tensorboard", cfg.tensorboard);
  read_writer(top, "csv_monitor", cfg.csv_monitor);
  read_wandb(top, cfg.wandb);
  read_comet(top, cfg.comet);
  read_comms_logger(top, cfg);
}

}  // namespace zs::config_detail
