// DeepSpeed-compatible training configuration: parsed, validated, "auto" resolved.
//
// Keys keep DeepSpeed's names, meanings and defaults. Every error names the key path
// ("zero_optimization.reduce_bucket_size") and says what is wrong; a misspelled key inside a
// known section gets a "did you mean" suggestion. Keys of features this build does not have
// yet are parsed and validated, and using them is an error (never silently ignored).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace zs {

// A configuration problem: the message is meant for the user, as is.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Precision { fp32, fp16, bf16 };
const char* precision_name(Precision p);

// fp16.* — loss scaling follows DeepSpeed's DynamicLossScaler.
struct LossScaleConfig {
  double static_scale = 0;          // fp16.loss_scale; 0 means dynamic
  int initial_scale_power = 16;     // dynamic: start at 2^power
  int loss_scale_window = 1000;     // dynamic: raise after this many overflow-free steps
  int hysteresis = 2;               // dynamic: overflows tolerated before lowering the scale
  bool consecutive_hysteresis = false;
  double min_loss_scale = 1;
};

// optimizer.{type, params}
struct OptimizerConfig {
  std::string type = "AdamW";       // canonical: "Adam", "AdamW", "SGD", "Lion", "Adagrad"
  double lr = 1e-3;                 // Adagrad's default: 1e-2
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;                // Adagrad's default: 1e-10
  double lr_decay = 0.0;            // Adagrad
  double weight_decay = 0.0;
  bool adam_w_mode = true;          // Adam with adam_w_mode=true is AdamW (DeepSpeed's default)
  double momentum = 0.0;            // SGD
  double dampening = 0.0;           // SGD
  bool nesterov = false;            // SGD
  bool torch_adam = false;          // accepted for compatibility; the math is the same
  bool present = false;             // the config had an "optimizer" section
};

// scheduler.{type, params}, with DeepSpeed's parameter names and defaults.
struct SchedulerConfig {
  std::string type;                 // "WarmupLR", "WarmupDecayLR", "WarmupCosineLR", "OneCycle"
  // WarmupLR / WarmupDecayLR
  double warmup_min_lr = 0.0;
  double warmup_max_lr = 0.001;     // absent: the optimizer's lr
  int64_t warmup_num_steps = 1000;
  std::string warmup_type = "log";  // "log" or "linear"
  int64_t total_num_steps = 0;      // WarmupDecayLR, WarmupCosineLR (required there)
  // WarmupCosineLR (ratios of the optimizer's lr)
  double warmup_min_ratio = 0.0;
  double cos_min_ratio = 0.0001;
  // OneCycle
  double cycle_min_lr = 0.0, cycle_max_lr = 0.0, decay_lr_rate = 0.0;
  int64_t cycle_first_step_size = 2000;
  int64_t cycle_second_step_size = -1;   // -1: same as first
  int64_t cycle_first_stair_count = 0, cycle_second_stair_count = -1;
  int64_t decay_step_size = 0;
  bool cycle_momentum = true;
  double cycle_min_mom = 0.8, cycle_max_mom = 0.9, decay_mom_rate = 0.0;
  // All types: the step the schedule resumes after (-1: start from the beginning)
  int64_t last_batch_iteration = -1;
};

// zero_optimization.offload_optimizer / offload_param
struct OffloadConfig {
  std::string device = "none";      // "none", "cpu", "nvme"
  std::string nvme_path;
  bool pin_memory = false;
  int64_t buffer_count = 5;
  int64_t buffer_size = 100000000;
  double ratio = 1.0;               // offload_optimizer: share of the optimizer step done on the CPU
  bool fast_init = false;           // offload_optimizer
  bool pipeline_read = false;       // offload_optimizer, nvme
  bool pipeline_write = false;      // offload_optimizer, nvme
  bool overlap_step = false;        // offload_optimizer cpu, stages 1-2 (a ZeroShard key): units'
                                    // parameters are updated while the next forward runs
  bool super_offload = false;       // offload_optimizer cpu, stage 3: each unit's CPU update starts in
                                    // backward once its gradient is reduced (without clipping and
                                    // loss scaling; otherwise the step runs after backward)
  std::optional<double> cpuadam_cores_perc;  // with super_offload: the share of cores the CPU Adam
                                             // uses (DeepSpeed's default 0.8)
  int64_t max_in_cpu = 1000000000;  // offload_param: parameter elements kept in CPU memory (nvme)
  bool enabled() const { return device != "none"; }
};

// zero_optimization.*  (sizes are in elements, as in DeepSpeed)
struct ZeroConfig {
  int stage = 0;
  bool overlap_comm = false;        // DeepSpeed: false for stages 1/2, true for stage 3
  bool contiguous_gradients = true;
  bool reduce_scatter = true;
  int64_t reduce_bucket_size = 500000000;
  int64_t allgather_bucket_size = 500000000;
  bool allgather_partitions = true;
  bool round_robin_gradients = false;
  // stage 3
  int64_t stage3_prefetch_bucket_size = 50000000;
  int64_t stage3_param_persistence_threshold = 100000;
  int64_t stage3_max_live_parameters = 1000000000;
  int64_t stage3_max_reuse_distance = 1000000000;
  bool stage3_gather_16bit_weights_on_model_save = false;
  int64_t sub_group_size = 1000000000;  // optimizer step granularity (elements) with offload
  bool elastic_checkpoint = false;
  bool ignore_unused_parameters = true;
  bool load_from_fp32_weights = true;
  OffloadConfig offload_optimizer;  // buffer_count defaults to 4 here
  OffloadConfig offload_param;      // buffer_count defaults to 5 here
  // ZeRO++ (stage 3 only): the units' parameter all-gathers carry int8 blocks with float32 scales
  // (qwZ); gradient reduce-scatters carry int8 (one node) or int4 within and int8 across nodes
  // (qgZ); a secondary copy of the 16-bit shards partitioned over groups of hpz ranks lets
  // re-gathers stay within the group (hpZ; 1 = off). See zero/unit_codec.hpp.
  bool zero_quantized_weights = false;
  bool zero_quantized_gradients = false;
  int64_t zero_hpz_partition_size = 1;
  bool zeropp() const { return zero_quantized_weights || zero_quantized_gradients || zero_hpz_partition_size > 1; }
};

// activation_checkpointing.*
struct ActivationCheckpointingConfig {
  bool partition_activations = false;
  bool cpu_checkpointing = false;
  bool contiguous_memory_optimization = false;
  int64_t number_checkpoints = -1;
  bool synchronize_checkpoint_boundary = false;
  bool profile = false;
  bool present = false;
};

// tensorboard / csv_monitor use output_path and job_name; wandb uses team, group, project.
struct MonitorConfig {
  bool enabled = false;
  std::string output_path;
  std::string job_name = "DeepSpeedJobName";
  std::string team, group;
  std::string project = "deepspeed";
};

// comms_logger.*: which collectives are logged and how (monitor/comms_logger.hpp).
struct CommsLoggerConfig {
  bool enabled = false;
  bool verbose = false;             // a line per collective as it finishes
  bool prof_all = true;             // every collective; false: only those named in prof_ops
  bool debug = false;               // refused: C++ has no caller names to add
  std::vector<std::string> prof_ops;  // "all_reduce", "reduce_scatter", "all_gather", "broadcast"
};

// flops_profiler.*
struct FlopsProfilerConfig {
  bool enabled = false;
  double recompute_fwd_factor = 0.0;
  int64_t profile_step = 1;
  int64_t module_depth = -1;
  int64_t top_modules = 1;
  bool detailed = true;
  std::string output_file;          // empty: print to stdout
};

// What an "auto" in the config became, and where the value came from ("--learning_rate",
// "default of --learning_rate", "model: hidden size 768, 768²", "DeepSpeed's default", "batch rule").
struct AutoResolution {
  std::string path;
  nlohmann::json value;
  std::string origin;
};

struct Config {
  // Batch triple: train_batch_size = micro * gradient_accumulation_steps * world_size.
  int64_t train_batch_size = 0;
  int64_t train_micro_batch_size_per_gpu = 0;
  int64_t gradient_accumulation_steps = 0;

  Precision precision = Precision::fp32;
  LossScaleConfig loss_scale;       // meaningful for fp16
  std::optional<std::string> communication_data_type;  // "fp32", "fp16", "bf16"; empty: gradient dtype

  OptimizerConfig optimizer;
  std::optional<SchedulerConfig> scheduler;
  double gradient_clipping = 0.0;   // 0: off
  bool prescale_gradients = false;
  double gradient_predivide_factor = 1.0;

  ZeroConfig zero;
  ActivationCheckpointingConfig activation_checkpointing;

  int64_t steps_per_print = 10;
  bool wall_clock_breakdown = false;   // forward/backward/step/communication times (monitor/step_breakdown.hpp)
  bool memory_breakdown = false;       // device memory after each phase and host RSS (the same)
  bool flops_profiler = false;      // flops_profiler.enabled (details in flops_profiler_options)
  FlopsProfilerConfig flops_profiler_options;
  MonitorConfig tensorboard, csv_monitor, wandb, comet;
  bool comms_logger = false;        // comms_logger.enabled (details in comms_logger_options)
  CommsLoggerConfig comms_logger_options;

  nlohmann::json raw;               // the resolved document, as used (for checkpoints and logs)
  std::vector<std::string> warnings;  // unknown top-level keys and the like; rank 0 prints them
  std::vector<AutoResolution> autos_resolved;  // each "auto" of the config: its value and origin
};

// The resolved configuration: every key ZeroShard reads, in DeepSpeed's layout and names, with
// "auto" resolved and defaults filled in.
nlohmann::json resolved_json(const Config& config);

// The resolved configuration as DeepSpeed's engine prints it at start (one indented
// "key ....... value" line per setting, then the user's JSON with "auto" resolved), followed by
// where each "auto" value came from. Lines end with '\n'; `prefix` starts each line.
std::string describe_config(const Config& config, const std::string& prefix = "");

// Values a program offers for "auto" keys, by key path ("optimizer.params.lr"), as Hugging Face's
// Trainer fills them from its arguments. `explicit_flag` names the command-line flag when the user
// gave it; a concrete config value that differs from an explicit flag is an error naming both.
// Without explicit_flag the value only fills "auto".
struct AutoValue {
  AutoValue(nlohmann::json value_ = nullptr, std::string explicit_flag_ = "", std::string shown_ = "",
            std::string origin_ = "")
      : value(std::move(value_)), explicit_flag(std::move(explicit_flag_)), shown(std::move(shown_)),
        origin(std::move(origin_)) {}
  nlohmann::json value;
  std::string explicit_flag;        // e.g. "--learning_rate"; empty: not given by the user
  std::string shown;                // the flag's value as the user wrote it ("bfloat16"); empty: `value`
  std::string origin;               // where a value comes from when no flag was given ("default of --lr")
};
using AutoValues = std::map<std::string, AutoValue>;

// The AutoValue of a program flag: explicit when the user gave it, else the flag's default.
// `shown` is the flag's value as typed, when the config value differs from it (--dtype bfloat16
// offers bf16.enabled true).
AutoValue flag_value(nlohmann::json value, const std::string& flag, bool given, const std::string& shown = "");

// Adds what Hugging Face's Trainer derives from the model's hidden size for "auto" keys:
// zero_optimization.reduce_bucket_size = hidden², stage3_prefetch_bucket_size = 0.9·hidden²,
// stage3_param_persistence_threshold = 10·hidden. Keys `autos` already has are left alone.
void add_model_auto_values(AutoValues& autos, int64_t hidden_size);

// Parses DeepSpeed JSON (accepting // and /* */ comments), resolves "auto" and the batch triple
// for `world_size` ranks, validates everything, and returns the result. Throws ConfigError, whose
// message starts with `source_name`. A config that asks for a feature this build does not have
// yet is rejected with a message saying so (see zs/config/unbuilt_features.hpp).
Config parse_config(const std::string& json_text, int world_size, const AutoValues& autos = {},
                    const std::string& source_name = "<config>");
Config load_config(const std::string& path, int world_size, const AutoValues& autos = {});

}  // namespace zs
