#include "zs/engine/engine.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include "zs/base/clock.hpp"
#include "zs/base/strings.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/monitor/comms_logger.hpp"
#include "zs/monitor/flops_profiler.hpp"
#include "zs/monitor/metric_sinks.hpp"
#include "zs/monitor/step_breakdown.hpp"
#include "zs/monitor/progress_bar.hpp"
#include "zs/monitor/step_logger.hpp"
#include "zs/monitor/step_stats.hpp"
#include "zs/optim/loss_scaler.hpp"
#include "zs/optim/lr_scheduler.hpp"
#include "zs/optim/host_optimizer.hpp"
#include "zs/optim/optimizer.hpp"
#include "zs/engine/memory_estimate.hpp"
#include "zs/engine/param_plan.hpp"
#include "zs/monitor/memory.hpp"
#include "zs/engine/auto_units.hpp"
#include "zs/zero/nvme_offload.hpp"
#include "zs/zero/param_group.hpp"
#include "zs/zero/param_swapper.hpp"
#include "zs/zero/reduction.hpp"
#include "zs/zero/sequential_units.hpp"
#include "zs/zero/storage.hpp"
#include "zs/zero/unit_codec.hpp"
#include "zs/zero/unit_runner.hpp"
#include "zs/zero/unit_schedule.hpp"
#include "zs/zero/zero_optimizer.hpp"

namespace zs {

namespace {

at::ScalarType dtype_of(Precision p) {
  switch (p) {
    case Precision::bf16: return at::kBFloat16;
    case Precision::fp16: return at::kHalf;
    default: return at::kFloat;
  }
}

std::optional<at::ScalarType> comm_dtype(const Config& c) {
  if (!c.communication_data_type) return std::nullopt;
  const std::string& s = *c.communication_data_type;
  if (s == "fp32") return at::kFloat;
  if (s == "bf16") return at::kBFloat16;
  if (s == "fp16") return at::kHalf;
  throw ConfigError("communication_data_type \"" + s + "\" is not one of fp32, fp16, bf16");
}

// The share of cores the CPU Adam step uses: with super_offload it runs while the device still
// computes, and the threads that drive the device keep the rest (DeepSpeed's cpuadam_cores_perc,
// 0.8 by default); otherwise all of them.
double cpu_adam_core_share(const Config& c) {
  const OffloadConfig& o = c.zero.offload_optimizer;
  if (ascii_lowercase(c.optimizer.type) == "sgd") {
    if (o.super_offload && o.cpuadam_cores_perc)
      throw ConfigError("zero_optimization.offload_optimizer.cpuadam_cores_perc sets the CPU Adam's threads; the "
                        "optimizer is SGD, whose host step runs on LibTorch's threads (remove the key)");
    return 1.0;
  }
  return o.super_offload ? o.cpuadam_cores_perc.value_or(0.8) : 1.0;
}

// offload_param to NVMe: the files and the buffer pool for the units' shards. Every shard must
// fit one pool buffer; that is checked before anything is written.
std::unique_ptr<ParamSwapper> make_param_swapper(const OffloadConfig& offload, const std::vector<UnitParams>& units,
                                                 const Communicator& comm, at::ScalarType dtype, bool pin_memory) {
  int64_t largest = 0, total = 0;
  for (const UnitParams& u : units) {
    const int64_t shard = make_unit_layout(u.params, u.groups, comm.size()).shard_numel;
    if (shard > offload.buffer_size)
      throw ConfigError("zero_optimization.offload_param.buffer_size " + std::to_string(offload.buffer_size) +
                        " is too small for unit \"" + u.name + "\": its shard holds " + std::to_string(shard) +
                        " elements on each of " + std::to_string(comm.size()) + " rank(s); set buffer_size to at least " +
                        std::to_string(shard));
    largest = std::max(largest, shard);
    total += shard;
  }
  return std::make_unique<ParamSwapper>(offload, comm.rank(), dtype, largest, total, pin_memory);
}

}  // namespace

Engine::Engine(torch::nn::Module& model, const Config& config, World& world, EngineOptions options)
    : model_(model), config_(config), world_(world), options_(std::move(options)) {
  const StagePolicy policy = StagePolicy::for_stage(config_.zero.stage);
  param_dtype_ = dtype_of(config_.precision);

  // Stage 3 partitions units; a model without any gets them made, or is refused (auto_units.hpp).
  std::string auto_units;
  if (policy.partition_parameters && find_units(model_).empty()) auto_units = make_automatic_units(model_);
  for (const FoundUnit& u : find_units(model_))
    if (options_.activation_checkpointing || config_.activation_checkpointing.present)
      u.unit->set_activation_checkpointing(true);
  // Planned before anything moves: moving a module replaces its parameters' data in place, so
  // the plan's tensors stay the model's parameters.
  const ParamPlan plan = plan_parameters(model_, options_.decay, policy.partition_parameters,
                                         config_.zero.stage3_param_persistence_threshold);
  num_params_ = plan.total_numel;
  make_monitors();
  // What this model needs under each stage and offload choice; refuse before allocating when the
  // chosen one cannot fit.
  memory_sizes_ = model_sizes(plan);
  const int64_t gpu_capacity = device_capacity(world_.device), host_available = host_available_memory();
  if (world_.is_main() && options_.log) {
    std::fputs(describe_memory(memory_sizes_, config_, gpu_capacity, host_available, world_.device.is_cuda()).c_str(), stdout);
    if (!auto_units.empty()) std::printf("[zeroshard] stage 3: %s\n", auto_units.c_str());
  }
  check_memory_fits(memory_sizes_, config_, gpu_capacity, host_available);

  build_groups(plan, policy);
  materialize_rest();
  // Everything else: buffers and frozen parameters (the groups' parameters are in place already,
  // so this leaves them alone), and every rank starts from rank 0's values.
  model_.to(world_.device, param_dtype_);
  {
    c10::NoGradGuard no_grad;
    Communicator& comm = *world_.comm;
    for (auto& p : model_.parameters(/*recurse=*/true))
      if (!p.requires_grad() && p.numel() > 0) comm.broadcast(p.detach(), 0)->wait();
  }
  broadcast_buffers();

  // Every unit runs under the engine's hooks: at stage 3 its group's gathers, at every stage
  // activation checkpointing when asked for.
  for (const FoundUnit& u : find_units(model_)) {
    ParamGroup* group = schedule_ ? group_of(u.unit->unit_module()) : nullptr;
    auto runner = std::make_unique<UnitRunner>(group, group ? schedule_.get() : nullptr);
    runner->set_name(u.name);
    u.unit->set_unit_hooks(runner.get());
    units_.emplace_back(u.unit, std::move(runner));
  }

  // Optimizer offload: masters and state in host memory, updated on the CPU (zero/offloaded_step.hpp).
  const OffloadConfig& offload = config_.zero.offload_optimizer;
  std::unique_ptr<Optimizer> inner = offload.enabled() ? make_host_optimizer(config_.optimizer, offload.pin_memory && world_.device.is_cuda(),
                                                                             cpu_adam_core_share(config_))
                                                       : make_optimizer(config_.optimizer);
  std::vector<ParamGroup*> groups;
  for (const auto& g : groups_) groups.push_back(g.get());
  optimizer_ = std::make_unique<ZeroOptimizer>(std::move(groups), *world_.comm, policy, std::move(inner),
                                               std::vector<double>{config_.optimizer.weight_decay, 0.0},
                                               config_.zero.allgather_bucket_size, offload);
  if (!schedule_ && offload.overlap_step) overlap_offloaded_step_with_units();
  if (config_.scheduler) scheduler_ = make_scheduler(*config_.scheduler, config_.optimizer.lr);
  scaler_ = std::make_unique<LossScaler>(config_.loss_scale, config_.precision == Precision::fp16);

  if (options_.log) {
    logger_ = std::make_unique<StepLogger>(world_.rank(), config_.steps_per_print, options_.flops_per_token,
                                           options_.peak_flops_per_device, world_.size(), options_.total_steps,
                                           world_.device);
    logger_->set_sample_name(options_.sample_name);
    if (options_.total_steps > 0) {
      progress_ = std::make_unique<ProgressBar>(options_.total_steps, world_.is_main());
      logger_->set_progress_bar(progress_.get());
    }
  }

  // The communicator reports each collective to the comms logger (also wall_clock_breakdown's
  // communication time).
  if (config_.comms_logger || config_.wall_clock_breakdown) {
    comms_logger_ = std::make_shared<CommsLogger>(config_.comms_logger_options, world_.rank(), world_.size());
    world_.comm->set_observer(comms_logger_);
    if (codec_) codec_->set_observer(comms_logger_);
  }
  if (config_.wall_clock_breakdown || config_.memory_breakdown)
    breakdown_ = std::make_unique<StepBreakdown>(world_.device, config_.wall_clock_breakdown, config_.memory_breakdown,
                                                 config_.wall_clock_breakdown ? comms_logger_ : nullptr, world_.rank(),
                                                 config_.steps_per_print);

  loss_sum_ = at::zeros({}, at::TensorOptions().device(world_.device).dtype(at::kFloat));
  last_lr_ = scheduled_lr();
  if (world_.is_main() && options_.log) print_summary();
  if (flops_profiler_) flops_profiler_->after_step(global_steps_);
  window_start_s_ = steady_seconds();
}

void Engine::build_groups(const ParamPlan& plan, const StagePolicy& policy) {
  Communicator& comm = *world_.comm;
  ReducerOptions reduce;
  reduce.overlap_comm = config_.zero.overlap_comm;
  reduce.use_reduce_scatter = config_.zero.reduce_scatter;
  reduce.comm_dtype = comm_dtype(config_);
  reduce.prescale = config_.prescale_gradients;
  reduce.predivide_factor = config_.gradient_predivide_factor;
  // ZeRO++ (stage 3 only, as the config checked): quantized gradient reduce-scatters for every
  // staged group; the units' gathers below.
  const ZeroConfig& z = config_.zero;
  if (policy.partition_parameters && z.zeropp()) {
    UnitCodecOptions zeropp;
    zeropp.quantize_weights = z.zero_quantized_weights;
    zeropp.quantize_gradients = z.zero_quantized_gradients;
    zeropp.hpz_partition_size = int(z.zero_hpz_partition_size);
    try {
      codec_ = std::make_unique<UnitCodec>(world_, zeropp);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string("zero_optimization (ZeRO++): ") + e.what());
    }
    if (codec_->quantizes_gradients()) reduce.codec = codec_.get();
  }
  reductions_ = std::make_unique<ReductionQueue>(comm, reduce);
  const auto tensor_options = at::TensorOptions().dtype(param_dtype_).device(world_.device);

  // The parameters that stay gathered: one group whose buckets are reduce_bucket_size elements.
  ParamGroupOptions gathered;
  gathered.grad_buffer = !policy.shard_gradients;
  gathered.shard_optimizer = policy.shard_optimizer;
  gathered.reduce = reduce;
  std::vector<int64_t> numels;
  for (const auto& p : plan.persistent) numels.push_back(p.tensor.numel());
  FlatLayout layout = make_flat_layout(numels, plan.persistent_groups, policy.partitions(world_.size()),
                                       config_.zero.reduce_bucket_size);
  groups_.push_back(std::make_unique<ParamGroup>("gathered parameters", plan.persistent, std::move(layout), comm,
                                                 *reductions_, gathered, tensor_options, options_.meta_init));
  if (!policy.partition_parameters) return;

  // Partitioned construction: the model was built on the host (or the meta device); each unit goes
  // to the device on its own, is broadcast from rank 0, keeps this rank's shard and lets the rest
  // go before the next unit comes. No rank ever holds the whole model on its device.
  schedule_ = std::make_unique<UnitSchedule>(config_.zero.stage3_prefetch_bucket_size,
                                             config_.zero.stage3_max_live_parameters,
                                             config_.zero.stage3_max_reuse_distance);
  ParamGroupOptions unit;
  unit.partitioned = true;
  unit.reduce = reduce;
  // Reduced gradients are kept in the communication dtype (an fp32 reduction is not rounded back).
  unit.shard_grad_dtype = reduce.comm_dtype;
  unit.placement.on_host = config_.zero.offload_param.device == "cpu";
  unit.placement.pin_memory = config_.zero.offload_param.pin_memory && world_.device.is_cuda();
  if (codec_ && (codec_->quantizes_weights() || codec_->secondary_size() > 1)) unit.codec = codec_.get();
  if (config_.zero.offload_param.device == "nvme") {
    param_swapper_ = make_param_swapper(config_.zero.offload_param, plan.units, comm, param_dtype_, unit.placement.pin_memory);
    unit.placement.nvme = param_swapper_.get();
  }
  for (const UnitParams& u : plan.units) {
    groups_.push_back(std::make_unique<ParamGroup>(u.name, u.params, make_unit_layout(u.params, u.groups, comm.size()),
                                                   comm, *reductions_, unit, tensor_options, options_.meta_init));
    schedule_->add(groups_.back().get());
  }
}

void Engine::materialize_rest() {
  // Buffers and frozen parameters of a model built on the meta device: made on the device.
  c10::NoGradGuard no_grad;
  auto materialize = [&](const std::string& name, at::Tensor& t) {
    if (!t.defined() || !t.is_meta()) return;
    if (!options_.meta_init)
      throw std::invalid_argument(name + " is on the meta device and no EngineOptions::meta_init was given");
    at::Tensor value = at::empty(t.sizes(), t.options().device(world_.device));
    options_.meta_init(name, value);
    replace_data(t, value);
  };
  for (auto& item : model_.named_parameters(/*recurse=*/true)) materialize(item.key(), item.value());
  for (auto& item : model_.named_buffers(/*recurse=*/true)) materialize(item.key(), item.value());
}

ParamGroup* Engine::group_of(torch::nn::Module& unit) const {
  for (const auto& g : groups_) {
    if (!g->partitioned()) continue;
    for (const auto& p : unit.parameters(/*recurse=*/true))
      for (const NamedParam& q : g->params())
        if (p.is_same(q.tensor)) return g.get();
  }
  return nullptr;
}

void Engine::overlap_offloaded_step_with_units() {
  // Stages 1-2 with optimizer offload: the units' parameters are updated while the next forward
  // runs; each unit waits for its own before it runs (ZeroOptimizer::before_unit).
  std::vector<std::vector<at::Tensor>> unit_params;
  for (const auto& [unit, runner] : units_) unit_params.push_back(unit->unit_module().parameters());
  optimizer_->overlap_with_units(unit_params);
  for (size_t u = 0; u < units_.size(); ++u)
    units_[u].second->set_before([this, u] { optimizer_->before_unit(int(u)); });
}

ModelSizes Engine::model_sizes(const ParamPlan& plan) {
  ModelSizes m;
  m.params = plan.total_numel;
  // The units the model marks, also below stage 3 (for the table of choices).
  try {
    const ParamPlan units = plan.units.empty() && config_.zero.stage != 3
                                ? plan_parameters(model_, options_.decay, true, config_.zero.stage3_param_persistence_threshold)
                                : plan;
    for (const UnitParams& u : units.units) {
      int64_t n = 0;
      for (const NamedParam& p : u.params) n += p.tensor.numel();
      m.unit_params += n;
      m.largest_unit = std::max(m.largest_unit, n);
    }
  } catch (const std::invalid_argument&) {
    // Units this model cannot partition (nested, shared): the estimate counts none.
  }
  m.bytes_per_param = int(c10::elementSize(param_dtype_));
  m.unit_grad_bytes = int(c10::elementSize(comm_dtype(config_).value_or(param_dtype_)));
  const bool adam = config_.optimizer.type != "SGD";
  m.state_floats = adam ? 2 : (config_.optimizer.momentum > 0 ? 1 : 0);
  m.world_size = world_.size();
  m.ranks_per_host = std::max(1, world_.info.local_world_size);
  return m;
}

MemoryEstimate Engine::memory_estimate() const {
  return estimate_memory(memory_sizes_, offload_choice(config_), config_.zero);
}

Engine::~Engine() {
  // A step begun in backward and never completed with step(): the optimizer's own end joins it.
  if (optimizer_ && !optimizer_->step_begun_in_backward()) {
    try {
      optimizer_->finish_update();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "[zeroshard] the last optimizer step failed: %s\n", e.what());
    }
  }
  // Units may outlive the engine: let them run plainly again.
  for (const auto& [unit, runner] : units_) unit->set_unit_hooks(nullptr);
  if (comms_logger_) {
    if (world_.comm->observer() == comms_logger_) world_.comm->set_observer(nullptr);
    if (comms_logger_->logging() && world_.is_main()) {
      const std::string table = comms_logger_->summary();
      std::fputs(table.empty() ? "[zeroshard] comms_logger: no collectives were logged\n" : table.c_str(), stdout);
      std::fflush(stdout);
    }
  }
}

double Engine::last_loss() const { return last_loss_.defined() ? last_loss_.item<double>() : 0.0; }

double Engine::last_grad_norm() const { return last_grad_norm_.defined() ? last_grad_norm_.item<double>() : 0.0; }

std::string Engine::cuda_graph_obstacle() const {
  if (!world_.device.is_cuda()) return "CUDA graphs need a GPU; this run is on " + world_.device.str();
  if (schedule_) return "stage 3 gathers and releases parameters inside the forward; use stage 0, 1 or 2";
  if (config_.zero.offload_optimizer.overlap_step)
    return "offload_optimizer.overlap_step waits for each unit's update inside the forward; leave it off";
  for (const auto& unit : units_)
    if (unit.first->activation_checkpointing())
      return "activation checkpointing recomputes units in backward with the forward's random state; leave it off";
  if (flops_profiler_) return "the flops profiler counts operations as the forward runs; leave it off";
  return "";
}

std::string Engine::super_offload_obstacle() const {
  if (!config_.zero.offload_optimizer.super_offload) return "offload_optimizer.super_offload is off";
  if (config_.gradient_clipping > 0)
    return "gradient_clipping scales every update by the whole gradient's norm, known only after backward";
  if (scaler_->enabled()) return "fp16 loss scaling checks the whole gradient for overflow first";
  if (!optimizer_->can_begin_step_in_backward())
    return "no unit is partitioned (every parameter stays gathered, e.g. under stage3_param_persistence_threshold)";
  return "";
}

bool Engine::is_gradient_accumulation_boundary() const {
  return (micro_steps_ + 1) % config_.gradient_accumulation_steps == 0;
}

double Engine::loss_scale() const { return scaler_->scale(); }

void Engine::set_lr_schedule(std::function<double(int64_t)> schedule) {
  if (scheduler_)
    throw ConfigError("the config has a \"scheduler\" section; a program schedule cannot replace it (remove one of them)");
  custom_schedule_ = std::move(schedule);
  last_lr_ = scheduled_lr();
}

double Engine::scheduled_lr() const {
  if (scheduler_) return scheduler_->lr(scheduler_steps_);
  if (custom_schedule_) return custom_schedule_(scheduler_steps_);
  return config_.optimizer.lr;
}

void Engine::backward(const at::Tensor& loss) {
  TORCH_CHECK(loss.numel() == 1, "Engine::backward expects a scalar loss, got shape ", loss.sizes());
  if (breakdown_) breakdown_->end(Phase::forward);
  if (flops_profiler_) flops_profiler_->before_backward();
  optimizer_->finish_update();  // an offloaded step still updating units the forward did not run
  const int64_t gas = config_.gradient_accumulation_steps;
  const bool boundary = is_gradient_accumulation_boundary();
  if (boundary && super_offload_obstacle().empty()) {
    // The window's last backward: the CPU update starts on each unit once its gradient is reduced.
    if (scheduler_) apply_scheduled_momentum(*scheduler_, optimizer_->optimizer(), scheduler_steps_);
    optimizer_->begin_step_in_backward(scheduled_lr());
  }
  for (const auto& g : groups_) g->begin_backward(boundary, micro_steps_ % gas == 0);
  {
    c10::NoGradGuard no_grad;
    loss_sum_.add_(loss.detach().to(at::kFloat));
  }
  // Mean over the accumulation window; the reductions average over ranks.
  (loss * (scaler_->scale() / double(gas))).backward();
  // What backward left unreduced (units that got no gradient) goes in the same order on every
  // rank: the units, then the gathered parameters.
  for (size_t g = 1; g < groups_.size(); ++g) groups_[g]->end_backward();
  groups_[0]->end_backward();
  if (schedule_) schedule_->end_backward();
  if (breakdown_) breakdown_->end(Phase::backward);
}

bool Engine::step() {
  const bool boundary = is_gradient_accumulation_boundary();
  ++micro_steps_;
  if (!boundary) return false;

  const double lr = scheduled_lr();
  if (!optimizer_->step_begun_in_backward()) {
    optimizer_->finish_update();
    if (scheduler_) apply_scheduled_momentum(*scheduler_, optimizer_->optimizer(), scheduler_steps_);
  }
  const StepOutcome outcome = optimizer_->step(lr, scaler_->scale(), scaler_->enabled(), config_.gradient_clipping);
  if (!outcome.skipped) drop_secondary_partitions();
  const double scale_used = scaler_->scale();
  scaler_->update(outcome.skipped);

  // Global mean loss of this step: over the micro-steps here, then over ranks.
  {
    c10::NoGradGuard no_grad;
    last_loss_ = loss_sum_ / double(config_.gradient_accumulation_steps);
    world_.comm->all_reduce(last_loss_, ReduceOp::avg)->wait();
    loss_sum_.zero_();
  }
  last_lr_ = lr;
  last_grad_norm_ = outcome.grad_norm;
  last_skipped_ = outcome.skipped;
  ++global_steps_;
  if (outcome.skipped) {
    ++skipped_steps_;
  } else {
    ++scheduler_steps_;
  }

  StepStats stats;
  std::vector<std::string> breakdown_lines;
  if (breakdown_) {
    breakdown_->end(Phase::step);
    breakdown_lines = breakdown_->finish_step(global_steps_, stats.extras);   // waits for the device
  }
  const double now = steady_seconds();
  stats.step = global_steps_;
  stats.lr = lr;
  stats.loss_scale = scale_used;
  stats.samples = config_.train_batch_size;
  stats.tokens = config_.train_batch_size * options_.tokens_per_sample;
  stats.seconds = now - window_start_s_;
  stats.skipped = outcome.skipped;
  stats.loss_scaling = scaler_->enabled();
  stats.global_samples = global_steps_ * config_.train_batch_size;
  // Reading the loss waits for the device: on logged steps only, and on every step for the sinks.
  const bool to_sinks = !sinks_->empty();
  if ((logger_ && global_steps_ % config_.steps_per_print == 0) || to_sinks) {
    stats.loss = last_loss();
    stats.grad_norm = last_grad_norm();
  }
  if (to_sinks) {
    add_throughput(stats);
    try {
      sinks_->write(stats);
    } catch (const std::exception& e) {   // only rank 0 writes: it ends every rank, with the reason
      world_.comm->abort(std::string("metric sinks: ") + e.what());
    }
  }
  if (logger_) logger_->log(stats);
  if (!breakdown_lines.empty()) {
    if (progress_) progress_->clear();
    for (const std::string& line : breakdown_lines) std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  if (flops_profiler_) {
    if (progress_) progress_->clear();
    try {
      flops_profiler_->finish_step(global_steps_, stats.seconds);
    } catch (const std::exception& e) {
      world_.comm->abort(std::string("flops_profiler: ") + e.what());
    }
    flops_profiler_->after_step(global_steps_);
  }
  if (progress_) progress_->update(global_steps_);
  window_start_s_ = now;
  return !outcome.skipped;
}

std::vector<ParamShard> Engine::param_shards() {
  optimizer_->finish_update();  // checkpoints read and write masters and state
  std::vector<ParamShard> shards;
  for (size_t i = 0; i < optimizer_->slots().size(); ++i) {
    const OwnedSlot& slot = optimizer_->slots()[i];
    const FlatBucket& bucket = slot.layout->buckets[slot.bucket];
    const int64_t own_lo = slot.own_begin, own_hi = own_lo + slot.own.numel();
    const auto state = optimizer_->optimizer().state(int(i));
    for (int e = bucket.first_entry; e < bucket.end_entry; ++e) {
      const FlatEntry& entry = slot.layout->entries[e];
      const NamedParam& p = (*slot.params)[e];
      ParamShard shard;
      shard.name = p.name;
      shard.shape = p.tensor.sizes().vec();
      const int64_t lo = std::max(own_lo, entry.offset), hi = std::min(own_hi, entry.offset + entry.numel);
      if (lo < hi) {
        shard.begin = lo - entry.offset;
        shard.end = hi - entry.offset;
        if (NvmeOffload* nvme = optimizer_->nvme_offload()) {  // master and state live in files
          const int index = int(i);
          const int64_t offset = lo - own_lo, count = hi - lo;
          shard.state_keys = nvme->state_keys();
          shard.read = [nvme, index, offset, count](const std::string& key) { return nvme->read(index, key, offset, count); };
          shard.write = [nvme, index, offset](const std::string& key, const at::Tensor& v) { nvme->write(index, key, offset, v); };
        } else {
          shard.master = slot.master.narrow(0, lo - own_lo, hi - lo);
          for (const auto& [key, tensor] : state) shard.optimizer_state[key] = tensor.narrow(0, lo - own_lo, hi - lo);
        }
      }
      shards.push_back(std::move(shard));
    }
  }
  return shards;
}

bool Engine::shards_replicated() const { return config_.zero.stage == 0; }

TrainingCounters Engine::counters() const {
  TrainingCounters c;
  c.global_steps = global_steps_;
  c.micro_steps = micro_steps_;
  c.skipped_steps = skipped_steps_;
  c.scheduler_steps = scheduler_steps_;
  c.optimizer_steps = optimizer_->optimizer().steps();
  return c;
}

void Engine::set_counters(const TrainingCounters& c) {
  global_steps_ = c.global_steps;
  micro_steps_ = c.micro_steps;
  skipped_steps_ = c.skipped_steps;
  scheduler_steps_ = c.scheduler_steps;
  optimizer_->finish_update();
  optimizer_->optimizer().set_steps(c.optimizer_steps);
  last_lr_ = scheduled_lr();
}

void Engine::pin_full_parameters(bool pinned) {
  c10::NoGradGuard no_grad;
  if (pinned) optimizer_->finish_update();
  if (schedule_) schedule_->set_pinned(pinned);
}

void Engine::broadcast_buffers() {
  if (world_.size() == 1) return;
  c10::NoGradGuard no_grad;
  for (auto& buffer : model_.buffers(/*recurse=*/true))
    if (buffer.defined() && buffer.numel() > 0) world_.comm->broadcast(buffer, 0)->wait();
}

void Engine::unshard(torch::nn::Module& unit) {
  c10::NoGradGuard no_grad;
  if (ParamGroup* group = schedule_ ? group_of(unit) : nullptr) {
    optimizer_->finish_update();
    group->set_pinned(true);
  }
}

void Engine::reshard(torch::nn::Module& unit) {
  c10::NoGradGuard no_grad;
  if (ParamGroup* group = schedule_ ? group_of(unit) : nullptr) group->set_pinned(false);
}

int64_t Engine::resident_parameter_bytes() const {
  int64_t bytes = 0;
  for (const auto& g : groups_) bytes += g->resident_bytes();
  return bytes;
}

std::vector<std::string> Engine::unit_names() const {
  std::vector<std::string> names;
  for (const FoundUnit& u : find_units(model_)) names.push_back(u.name);
  return names;
}

void Engine::visit_full_parameters(const std::function<void(const std::string&, const at::Tensor&)>& fn) {
  c10::NoGradGuard no_grad;
  for (const auto& group : groups_) {
    const bool was_pinned = group->pinned();
    group->set_pinned(true);
    for (const NamedParam& p : group->params()) fn(p.name, p.tensor);
    group->set_pinned(was_pinned);
  }
}

void Engine::synchronize() {
  c10::NoGradGuard no_grad;
  optimizer_->finish_update();
}

void Engine::refresh_parameters() {
  c10::NoGradGuard no_grad;
  optimizer_->finish_update();
  optimizer_->publish_parameters();
  drop_secondary_partitions();
}

void Engine::drop_secondary_partitions() {
  if (!codec_ || codec_->secondary_size() == 1) return;
  for (const auto& g : groups_) g->drop_secondary();
}

}  // namespace zs
