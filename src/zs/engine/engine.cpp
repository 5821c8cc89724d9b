#include "zs/engine/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include "zs/dist/communicator.hpp"
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
#include "zs/zero/activation_checkpoint.hpp"
#include "zs/zero/flat_params.hpp"
#include "zs/zero/grad_reducer.hpp"
#include "zs/zero/nvme_offload.hpp"
#include "zs/zero/param_swapper.hpp"
#include "zs/zero/sharded_unit.hpp"
#include "zs/zero/unit_schedule.hpp"
#include "zs/zero/zero_optimizer.hpp"

namespace zs {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

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
  Communicator& comm = *world_.comm;
  param_dtype_ = dtype_of(config_.precision);

  // Units (zero/unit.hpp): activation checkpointing for each when asked (flag or config
  // section); at stage 3 the units' own hooks honour it, below that CheckpointingHooks do.
  if (!policy.partition_parameters) checkpointing_ = std::make_unique<CheckpointingHooks>();
  for (const auto& m : model_.modules(/*include_self=*/true)) {
    auto* unit = dynamic_cast<UnitModule*>(m.get());
    if (!unit) continue;
    if (options_.activation_checkpointing || config_.activation_checkpointing.present)
      unit->set_activation_checkpointing(true);
    if (checkpointing_) unit->set_unit_hooks(checkpointing_.get());
  }
  // Planned before anything moves: moving a module replaces its parameters' data in place, so
  // the plan's tensors stay the model's parameters.
  const ParamPlan plan = plan_parameters(model_, options_.decay, policy.partition_parameters,
                                         config_.zero.stage3_param_persistence_threshold);
  num_params_ = plan.total_numel;
  // What this model needs under each stage and offload choice; refuse before allocating when the
  // chosen one cannot fit.
  memory_sizes_ = model_sizes(plan);
  const int64_t gpu_capacity = device_capacity(world_.device), host_available = host_available_memory();
  if (world_.is_main() && options_.log)
    std::fputs(describe_memory(memory_sizes_, config_, gpu_capacity, host_available, world_.device.is_cuda()).c_str(), stdout);
  check_memory_fits(memory_sizes_, config_, gpu_capacity, host_available);
  ReducerOptions reducer_options;
  reducer_options.overlap_comm = config_.zero.overlap_comm;
  reducer_options.use_reduce_scatter = config_.zero.reduce_scatter;
  reducer_options.comm_dtype = comm_dtype(config_);
  reducer_options.prescale = config_.prescale_gradients;
  reducer_options.predivide_factor = config_.gradient_predivide_factor;
  if (policy.partition_parameters) {
    // Partitioned construction: the model was built on the host; each unit goes to the device on
    // its own, is broadcast from rank 0, keeps this rank's shard and lets the rest go before the
    // next unit comes. No rank ever holds the whole model on its device.
    units_ = std::make_unique<UnitSchedule>(config_.zero.stage3_prefetch_bucket_size,
                                            config_.zero.stage3_max_live_parameters,
                                            config_.zero.stage3_max_reuse_distance);
    const auto unit_options = at::TensorOptions().dtype(param_dtype_).device(world_.device);
    ShardPlacement placement;
    placement.on_host = config_.zero.offload_param.device == "cpu";
    placement.pin_memory = config_.zero.offload_param.pin_memory && world_.device.is_cuda();
    if (config_.zero.offload_param.device == "nvme") {
      param_swapper_ = make_param_swapper(config_.zero.offload_param, plan.units, comm, param_dtype_, placement.pin_memory);
      placement.nvme = param_swapper_.get();
    }
    for (const UnitParams& u : plan.units)
      units_->add(std::make_unique<ShardedUnit>(u.name, *u.module, u.params, u.groups, comm, *units_, reducer_options,
                                                unit_options, placement));
  }
  // Everything else (units' parameters are already in place, so this leaves them alone).
  model_.to(world_.device, param_dtype_);
  {
    // Every rank starts from rank 0's weights and buffers.
    c10::NoGradGuard no_grad;
    std::unordered_set<const void*> in_units;  // broadcast with their unit already
    for (const UnitParams& u : plan.units)
      for (const NamedParam& p : u.params) in_units.insert(p.tensor.unsafeGetTensorImpl());
    for (auto& p : model_.parameters(/*recurse=*/true))
      if (!in_units.count(p.unsafeGetTensorImpl())) comm.broadcast(p.detach(), 0)->wait();
    for (auto& buffer : model_.buffers(/*recurse=*/true))
      if (buffer.defined() && buffer.numel() > 0) comm.broadcast(buffer, 0)->wait();
  }
  std::vector<int64_t> numels;
  for (const auto& p : plan.persistent) numels.push_back(p.tensor.numel());
  FlatLayout layout = make_flat_layout(numels, plan.persistent_groups, policy.partitions(world_.size()),
                                       config_.zero.reduce_bucket_size);
  flat_ = std::make_unique<FlatParams>(plan.persistent, std::move(layout), /*keep_grad_buffer=*/!policy.shard_gradients,
                                       at::TensorOptions().dtype(param_dtype_).device(world_.device));
  reducer_ = std::make_unique<GradReducer>(*flat_, comm, policy, reducer_options);

  // Optimizer offload: masters and state in host memory, updated on the CPU (zero/offloaded_step.hpp).
  const OffloadConfig& offload = config_.zero.offload_optimizer;
  std::unique_ptr<Optimizer> inner = offload.enabled() ? make_host_optimizer(config_.optimizer, offload.pin_memory && world_.device.is_cuda())
                                                       : make_optimizer(config_.optimizer);
  optimizer_ = std::make_unique<ZeroOptimizer>(*flat_, *reducer_, comm, policy, std::move(inner),
                                               std::vector<double>{config_.optimizer.weight_decay, 0.0},
                                               config_.zero.allgather_bucket_size, units_.get(), offload);
  if (checkpointing_ && offload.overlap_step) overlap_offloaded_step_with_units();
  if (config_.scheduler) scheduler_ = make_scheduler(*config_.scheduler, config_.optimizer.lr);
  scaler_ = std::make_unique<LossScaler>(config_.loss_scale, config_.precision == Precision::fp16);

  if (options_.log) {
    logger_ = std::make_unique<StepLogger>(world_.rank(), config_.steps_per_print, options_.flops_per_token,
                                           options_.peak_flops_per_device, world_.size(), options_.total_steps,
                                           world_.device);
    if (options_.total_steps > 0) {
      progress_ = std::make_unique<ProgressBar>(options_.total_steps, world_.is_main());
      logger_->set_progress_bar(progress_.get());
    }
  }

  loss_sum_ = at::zeros({}, at::TensorOptions().device(world_.device).dtype(at::kFloat));
  last_lr_ = scheduled_lr();
  if (world_.is_main() && options_.log) print_summary();
  window_start_s_ = now_s();
}

void Engine::overlap_offloaded_step_with_units() {
  // Stages 1-2 with optimizer offload: the units' parameters are updated while the next forward
  // runs; each unit waits for its own before it runs (ZeroOptimizer::before_unit).
  std::vector<std::vector<at::Tensor>> unit_params;
  std::unordered_map<const UnitModule*, int> index;
  for (const auto& m : model_.modules(/*include_self=*/true)) {
    auto* unit = dynamic_cast<UnitModule*>(m.get());
    if (!unit) continue;
    index[unit] = int(unit_params.size());
    unit_params.push_back(unit->parameters());
  }
  optimizer_->overlap_with_units(unit_params);
  checkpointing_->set_before([this, index](UnitModule& unit) {
    auto it = index.find(&unit);
    if (it != index.end()) optimizer_->before_unit(it->second);
  });
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
  if (optimizer_) {
    try {
      optimizer_->finish_update();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "[zeroshard] the last optimizer step failed: %s\n", e.what());
    }
  }
  // Units may outlive the engine: let them run plainly again.
  if (checkpointing_)
    for (const auto& m : model_.modules(/*include_self=*/true))
      if (auto* unit = dynamic_cast<UnitModule*>(m.get())) unit->set_unit_hooks(nullptr);
}

double Engine::last_loss() const { return last_loss_.defined() ? last_loss_.item<double>() : 0.0; }

double Engine::last_grad_norm() const { return last_grad_norm_.defined() ? last_grad_norm_.item<double>() : 0.0; }

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
  optimizer_->finish_update();  // an offloaded step still updating units the forward did not run
  const int64_t gas = config_.gradient_accumulation_steps;
  reducer_->begin_backward(is_gradient_accumulation_boundary(), micro_steps_ % gas == 0);
  if (units_) units_->begin_backward(micro_steps_ % gas == 0);
  {
    c10::NoGradGuard no_grad;
    loss_sum_.add_(loss.detach().to(at::kFloat));
  }
  // Mean over the accumulation window; the reducer averages over ranks.
  (loss * (scaler_->scale() / double(gas))).backward();
  if (units_) units_->end_backward();
  reducer_->end_backward();
}

bool Engine::step() {
  const bool boundary = is_gradient_accumulation_boundary();
  ++micro_steps_;
  if (!boundary) return false;

  const double lr = scheduled_lr();
  optimizer_->finish_update();
  if (scheduler_) apply_scheduled_momentum(*scheduler_, optimizer_->optimizer(), scheduler_steps_);
  const StepOutcome outcome = optimizer_->step(lr, scaler_->scale(), scaler_->enabled(), config_.gradient_clipping);
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

  const double now = now_s();
  StepStats stats;
  stats.step = global_steps_;
  stats.lr = lr;
  stats.loss_scale = scale_used;
  stats.samples = config_.train_batch_size;
  stats.tokens = config_.train_batch_size * options_.tokens_per_sample;
  stats.seconds = now - window_start_s_;
  stats.skipped = outcome.skipped;
  if (logger_ && global_steps_ % config_.steps_per_print == 0) {
    stats.loss = last_loss();
    stats.grad_norm = last_grad_norm();
  }
  if (logger_) logger_->log(stats);
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
  if (units_) units_->set_pinned(pinned);
}

void Engine::visit_full_parameters(const std::function<void(const std::string&, const at::Tensor&)>& fn) {
  c10::NoGradGuard no_grad;
  for (const NamedParam& p : flat_->params()) fn(p.name, p.tensor);
  if (!units_) return;
  for (const auto& unit : units_->units()) {
    const bool was_pinned = unit->pinned();
    unit->set_pinned(true);
    for (const NamedParam& p : unit->params()) fn(p.name, p.tensor);
    unit->set_pinned(was_pinned);
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
}

void Engine::print_summary() const {
  const Config& c = config_;
  for (const auto& w : c.warnings) std::fprintf(stderr, "[zeroshard] warning: %s\n", w.c_str());
  std::fputs(describe_config(c, "[zeroshard] ").c_str(), stdout);  // as DeepSpeed's engine prints its config
  std::printf("[zeroshard] ZeRO stage %d | %s | %d rank(s) on %s (%s) | %.2fM trainable parameters\n", c.zero.stage,
              precision_name(c.precision), world_.size(), world_.device.str().c_str(), world_.comm->backend().c_str(),
              num_params_ / 1e6);
  std::printf("[zeroshard] batch %lld = micro %lld x accumulation %lld x %d ranks | optimizer %s lr %g | clip %g\n",
              (long long)c.train_batch_size, (long long)c.train_micro_batch_size_per_gpu,
              (long long)c.gradient_accumulation_steps, world_.size(), optimizer_ ? c.optimizer.type.c_str() : "?",
              c.optimizer.lr, c.gradient_clipping);
  if (optimizer_ && !optimizer_->offload_summary().empty())
    std::printf("[zeroshard] %s\n", optimizer_->offload_summary().c_str());
  if (param_swapper_) std::printf("[zeroshard] %s\n", param_swapper_->describe().c_str());
  std::fflush(stdout);
}

}  // namespace zs
