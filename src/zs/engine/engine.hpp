// Engine: the object a training program talks to.
//
//   auto world  = zs::init_distributed();
//   auto config = zs::load_config("ds_config.json", world.size());
//   GPT model(gpt_config);
//   zs::Engine engine(*model, config, world);
//   for (...) { auto loss = model->forward(x, y).loss; engine.backward(loss); engine.step(); }
//
// It moves the model to the rank's device and precision, flattens the trainable parameters into
// ZeRO buffers, and from then on owns the optimizer: backward() scales the loss and reduces
// gradients during backward; step() acts on accumulation boundaries only (clipping, loss-scale
// bookkeeping, the sharded update, the parameter all-gather, the lr schedule and the step log).
#pragma once

#include <functional>
#include <map>
#include <vector>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "zs/config/config.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/memory_estimate.hpp"
#include "zs/zero/param_group.hpp"
#include "zs/zero/stage_policy.hpp"

namespace zs {

class ParamGroup;
class ReductionQueue;
class UnitCodec;
class ZeroOptimizer;
class UnitSchedule;
class UnitRunner;
class UnitBase;
class ParamSwapper;
class LrScheduler;
class LossScaler;
class StepLogger;
class ProgressBar;
class MetricSinks;
class StepBreakdown;
class CommsLogger;
class FlopsProfiler;
struct StepStats;
struct ParamPlan;

// One trainable parameter as this rank holds it: the part of its flattened fp32 master weights
// and optimizer state that lives here. Checkpoints read and write the training state through
// read() and write(), whichever store holds it (zero/state/state_store.hpp); writes take effect
// for training with refresh_parameters().
struct ParamShard {
  std::string name;
  std::vector<int64_t> shape;
  int64_t begin = 0, end = 0;   // this rank's elements [begin, end) of the flattened parameter
  // The state keys besides "master" (e.g. exp_avg, exp_avg_sq); read(key) gives "master" or one
  // of them (fp32, end - begin elements), write(key, offset, values) replaces values.numel() of
  // them from element begin + offset on (a piece at a time keeps host memory small). Unset when
  // the range is empty.
  std::vector<std::string> state_keys;
  std::function<at::Tensor(const std::string& key)> read;
  std::function<void(const std::string& key, int64_t offset, const at::Tensor& values)> write;
  // The same elements as views where they live in memory (on the device or the host); undefined
  // and empty when they live in files (NVMe offload).
  at::Tensor master;
  std::map<std::string, at::Tensor> optimizer_state;
};

// Step counters a resumed run continues from.
struct TrainingCounters {
  int64_t global_steps = 0, micro_steps = 0, skipped_steps = 0, scheduler_steps = 0, optimizer_steps = 0;
};

struct EngineOptions {
  // Parameters for which this returns false get no weight decay (nanoGPT: biases and norms).
  // Unset: every parameter decays, as in DeepSpeed.
  std::function<bool(const std::string& name, const at::Tensor& param)> decay;
  // For the step log: tokens per sample (sequence length) and model FLOPs per token (6N + attention).
  int64_t tokens_per_sample = 0;
  double flops_per_token = 0;
  std::string sample_name = "samples";   // models without tokens: what the step lines count ("images")
  double peak_flops_per_device = 0;   // 0: 989 TFLOP/s (H100/H200 dense bf16) on CUDA, none on CPU
  int64_t total_steps = 0;            // for the progress display; 0: unknown
  // Checkpoint the activations of every unit (zero/unit.hpp). Also on when the config has an
  // "activation_checkpointing" section. A unit can ask for it by itself too.
  bool activation_checkpointing = false;
  // A model built on the meta device (no memory: `Model m(config_on_meta)`) is materialised on
  // the rank's device, one unit at a time at stage 3: every parameter and buffer is made there and
  // filled by this function (rank 0's values are broadcast). zs::zero_init leaves zeros for
  // weights that a checkpoint or a Hugging Face directory will load right after.
  MetaInit meta_init;
  bool log = true;                    // print step lines on rank 0
  // A JSON-lines log of every step (monitor/jsonl_sink.hpp), written by rank 0; empty: none. The
  // config's tensorboard and csv_monitor blocks add their own sinks.
  std::string metrics_jsonl;
};

class Engine {
 public:
  Engine(torch::nn::Module& model, const Config& config, World& world, EngineOptions options = {});
  template <class M>
  Engine(torch::nn::ModuleHolder<M>& model, const Config& config, World& world, EngineOptions options = {})
      : Engine(*model, config, world, std::move(options)) {}
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Backward of one micro-batch's loss (its mean over the micro-batch). Each backward must be
  // followed by step() before the next (as with DeepSpeed): a second backward is refused.
  void backward(const at::Tensor& loss);
  // Called after every backward: counts the micro-step and, on the accumulation boundary, runs the
  // optimizer step; a no-op (returns false) on other micro-steps. Returns true when the
  // parameters were updated (false also when fp16 overflow skipped it).
  bool step();

  // The learning rate schedule when the config has no "scheduler" section (e.g. a trainer's own).
  void set_lr_schedule(std::function<double(int64_t step)> schedule);

  bool is_gradient_accumulation_boundary() const;
  int64_t global_steps() const { return global_steps_; }
  int64_t micro_steps() const { return micro_steps_; }
  int64_t skipped_steps() const { return skipped_steps_; }
  double lr() const { return last_lr_; }
  double loss_scale() const;
  // Global mean loss and gradient norm of the last step. Reading them waits for the device, so
  // the engine itself reads them only on steps it logs.
  double last_grad_norm() const;
  double last_loss() const;
  bool last_step_skipped() const { return last_skipped_; }

  // Training state, for checkpoints. Every rank's shards together cover every parameter once
  // (at stage 0 every rank holds everything: shards_replicated()).
  std::vector<ParamShard> param_shards();
  bool shards_replicated() const;
  TrainingCounters counters() const;
  void set_counters(const TrainingCounters& counters);
  LossScaler& loss_scaler() { return *scaler_; }
  // After new masters were written (a checkpoint load): refresh every rank's 16-bit parameters.
  void refresh_parameters();
  // Waits for an optimizer step that is still updating parameters: with optimizer offload the
  // units' parameters are updated while the next forward runs (always at stage 3, where they are
  // only seen gathered; at stages 1-2 with offload_optimizer.overlap_step). Every engine call
  // waits by itself; call this before reading stage 1-2 parameters directly after step().
  // Collective with overlap_step (it gathers what the forward has not).
  void synchronize();
  // Why the model's forward and backward cannot be captured as CUDA graphs under this engine
  // (GraphedLoss, trainers' --cuda_graph), or "" when they can: on a GPU, with nothing of the
  // engine's running inside the forward (stage 3's gathers, overlap_step's waits, activation
  // checkpointing's recomputation, the flops profiler's counting).
  std::string cuda_graph_obstacle() const;
  // Why the optimizer step cannot begin in backward (offload_optimizer.super_offload); empty when it
  // does.
  std::string super_offload_obstacle() const;
  // With optimizer offload: where the optimizer state lives and how the step is split and runs
  // (the line the engine prints at start); empty without offload.
  std::string offload_summary() const;
  torch::nn::Module& module() { return model_; }
  // Stage 3: gathers every unit's parameters and keeps them gathered (pinned = true), or lets
  // them go (false). A no-op below stage 3. Collective. FullParameters scopes it.
  void pin_full_parameters(bool pinned);
  // Every rank takes rank 0's buffers. BatchNorm's running statistics drift apart on ranks that
  // normalise their own micro batches; the trainers call this before each evaluation (as timm
  // does), so that every rank evaluates, and checkpoints save, the same statistics. Collective.
  void broadcast_buffers();

  // Explicit control of one unit, for front ends that drive forward themselves: unshard()
  // gathers the unit's parameters and keeps them until reshard() (stage 3; a no-op below, and for
  // modules that are not units). Collective: every rank makes the same calls in the same order.
  void unshard(torch::nn::Module& unit);
  void reshard(torch::nn::Module& unit);
  // The units (module paths), in module order; at stage 3 also made automatically.
  std::vector<std::string> unit_names() const;
  // Bytes of trainable parameter values this rank holds right now (full buffers with memory and
  // shards; not the optimizer's fp32 masters or state): at stage 3 between uses about 1/N.
  int64_t resident_parameter_bytes() const;
  // Calls fn(name, full value) for every trainable parameter, gathering stage-3 units one at a
  // time (so only one unit is whole at once), e.g. to export 16-bit weights. Collective.
  void visit_full_parameters(const std::function<void(const std::string& name, const at::Tensor& value)>& fn);

  const Config& config() const { return config_; }
  World& world() { return world_; }
  at::ScalarType param_dtype() const { return param_dtype_; }
  // This run's model-state memory per GPU and per host, as printed at start (memory_estimate.hpp).
  MemoryEstimate memory_estimate() const;
  int64_t num_parameters() const { return num_params_; }

 private:
  double scheduled_lr() const;
  void build_groups(const ParamPlan& plan, const StagePolicy& policy);
  // Each unit's shard placement: in host memory (offload_param "cpu"; with a ratio, some units).
  std::vector<bool> units_on_host(const ParamPlan& plan, bool offload_param) const;
  void materialize_rest();
  void overlap_offloaded_step_with_units();
  ParamGroup* group_of(torch::nn::Module& unit) const;
  ModelSizes model_sizes(const ParamPlan& plan);
  void print_summary() const;
  // The step's rates for the sinks: samples/s, tok/s per device and MFU (where a peak is known).
  void add_throughput(StepStats& stats) const;
  double peak_flops() const;   // per device: the option, else the CUDA default, else 0 (CPU)
  void make_monitors();
  void drop_secondary_partitions();

  torch::nn::Module& model_;
  Config config_;
  World& world_;
  EngineOptions options_;
  at::ScalarType param_dtype_;
  int64_t num_params_ = 0;
  ModelSizes memory_sizes_;

  std::unique_ptr<UnitCodec> codec_;   // ZeRO++ (stage 3, when asked for): outlives the groups and reductions
  std::unique_ptr<ReductionQueue> reductions_;
  std::unique_ptr<ParamSwapper> param_swapper_;  // offload_param "nvme": the units' shard files (outlives them)
  // groups_[0] holds the parameters that stay gathered; at stage 3 one group per unit follows.
  std::vector<std::unique_ptr<ParamGroup>> groups_;
  std::unique_ptr<UnitSchedule> schedule_;  // stage 3
  // Every unit with the hooks the engine installed on it (its group at stage 3), in module order.
  std::vector<std::pair<UnitBase*, std::unique_ptr<UnitRunner>>> units_;
  std::unique_ptr<ZeroOptimizer> optimizer_;
  std::unique_ptr<LrScheduler> scheduler_;
  std::unique_ptr<LossScaler> scaler_;
  std::unique_ptr<StepLogger> logger_;
  std::unique_ptr<ProgressBar> progress_;
  std::unique_ptr<MetricSinks> sinks_;   // tensorboard, csv_monitor, JSON lines (rank 0)
  std::shared_ptr<CommsLogger> comms_logger_;    // comms_logger, or wall_clock_breakdown's communication time
  std::unique_ptr<StepBreakdown> breakdown_;     // wall_clock_breakdown, memory_breakdown
  std::unique_ptr<FlopsProfiler> flops_profiler_;
  std::function<double(int64_t)> custom_schedule_;

  int64_t micro_steps_ = 0, global_steps_ = 0, skipped_steps_ = 0, scheduler_steps_ = 0;
  bool backward_since_step_ = false;   // backward() ran and step() has not yet
  at::Tensor loss_sum_;
  at::Tensor last_loss_, last_grad_norm_;   // 0-dim fp32 on the device
  double last_lr_ = 0;
  bool last_skipped_ = false;
  double window_start_s_ = 0;
};

// Full parameters for as long as it lives, at every stage: for evaluation, sampling or export
// under stage 3, where parameters are otherwise gathered only inside their unit's forward and
// backward. Collective: every rank creates and destroys it at the same point.
class FullParameters {
 public:
  explicit FullParameters(Engine& engine) : engine_(engine) { engine_.pin_full_parameters(true); }
  ~FullParameters() { engine_.pin_full_parameters(false); }
  FullParameters(const FullParameters&) = delete;
  FullParameters& operator=(const FullParameters&) = delete;

 private:
  Engine& engine_;
};

}  // namespace zs
