// Engine: construction — the parameter plan and groups, units and their hooks, the optimizer,
// scheduler, loss scaler and monitors — and the model-state sizes the memory estimate reads.
// The training calls are in engine.cpp, the summary and monitors in engine_monitors.cpp.
#include "zs/engine/engine.hpp"

#include <algorithm>
#include <cstdio>

#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include "zs/base/clock.hpp"
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
  if (!runs_on_cpu_adam(c.optimizer)) {
    if (o.super_offload && o.cpuadam_cores_perc)
      throw ConfigError("zero_optimization.offload_optimizer.cpuadam_cores_perc sets the CPU Adam's threads; the "
                        "optimizer is " + c.optimizer.type + ", whose host step runs on LibTorch's threads (remove the key)");
    return 1.0;
  }
  return o.super_offload ? o.cpuadam_cores_perc.value_or(0.8) : 1.0;
}

// The fp32 state values the optimizer keeps per parameter besides the master: Adam's two moments,
// Lion's momentum, Adagrad's sum, SGD's momentum buffer when it has momentum (the type is canonical).
int state_floats_per_param(const OptimizerConfig& o) {
  if (o.type == "SGD") return o.momentum > 0 ? 1 : 0;
  if (o.type == "Lion" || o.type == "Adagrad") return 1;
  return 2;
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

  // Optimizer offload: masters and state in host memory (or files), updated on the CPU
  // (zero/state/host_state_store.hpp, nvme_state_store.hpp).
  const OffloadConfig& offload = config_.zero.offload_optimizer;
  std::unique_ptr<Optimizer> inner = offload.enabled() ? make_host_optimizer(config_.optimizer, offload.pin_memory && world_.device.is_cuda(),
                                                                             cpu_adam_core_share(config_))
                                                       : make_optimizer(config_.optimizer);
  std::vector<ParamGroup*> groups;
  for (const auto& g : groups_) groups.push_back(g.get());
  // offload_optimizer.ratio < 1: the rest of the step stays on the device, with its own optimizer.
  std::unique_ptr<Optimizer> device_share =
      offload.device == "cpu" && offload.ratio < 1.0 ? make_optimizer(config_.optimizer) : nullptr;
  const bool split_by_units = device_share && config_.zero.offload_param.device == "cpu";
  optimizer_ = std::make_unique<ZeroOptimizer>(std::move(groups), *world_.comm, policy, std::move(inner),
                                               std::vector<double>{config_.optimizer.weight_decay, 0.0},
                                               config_.zero.allgather_bucket_size, offload, std::move(device_share),
                                               split_by_units);
  // 16-bit units whose fp32 masters live beside them gather from the masters and drop their
  // 16-bit shards: 12 bytes a parameter between steps instead of 14.
  if (!offload.enabled() && groups_.front()->tensor_options().dtype() != at::kFloat)
    for (const auto& g : groups_)
      if (g->partitioned()) g->gather_from_masters(optimizer_->masters_of(*g));
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
  loss_sum_ = at::zeros({}, at::TensorOptions().device(world_.device).dtype(at::kFloat));
  last_lr_ = scheduled_lr();
  if (world_.is_main() && options_.log) print_summary();
  if (flops_profiler_) flops_profiler_->after_step(global_steps_);
  // The breakdown's clock and the step's wall clock start together, after all of the set-up (the
  // summary above included): the first step's phases then sum to its wall time as the others do.
  if (config_.wall_clock_breakdown || config_.memory_breakdown)
    breakdown_ = std::make_unique<StepBreakdown>(world_.device, config_.wall_clock_breakdown, config_.memory_breakdown,
                                                 config_.wall_clock_breakdown ? comms_logger_ : nullptr, world_.rank(),
                                                 config_.steps_per_print);
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
  const std::vector<bool> on_host = units_on_host(plan, unit.placement.on_host);
  for (size_t i = 0; i < plan.units.size(); ++i) {
    const UnitParams& u = plan.units[i];
    unit.placement.on_host = on_host[i];
    groups_.push_back(std::make_unique<ParamGroup>(u.name, u.params, make_unit_layout(u.params, u.groups, comm.size()),
                                                   comm, *reductions_, unit, tensor_options, options_.meta_init));
    schedule_->add(groups_.back().get());
  }
}

std::vector<bool> Engine::units_on_host(const ParamPlan& plan, bool offload_param) const {
  // offload_param "cpu" with offload_optimizer.ratio < 1: whole units go to the host, parameter
  // shards and optimizer state together, the ones the next forward reaches last (the optimizer's
  // split, by unit: the gathered parameters first, then the units in forward order). The rest
  // stay on the device as in a partial offload without offload_param.
  const double ratio = config_.zero.offload_optimizer.ratio;
  if (!offload_param || ratio >= 1.0) return std::vector<bool>(plan.units.size(), offload_param);
  const int64_t world = world_.size();
  std::vector<int64_t> sizes{numel_of(plan.persistent)};
  for (const UnitParams& u : plan.units) sizes.push_back(numel_of(u.params));
  for (int64_t& n : sizes) n = (n + world - 1) / world;  // this rank's share
  const std::vector<bool> split = offload_ratio_split(sizes, ratio, /*from_front=*/false);
  std::vector<bool> on_host(split.begin() + 1, split.end());
  if (ratio > 0 && std::find(on_host.begin(), on_host.end(), true) == on_host.end() && world_.is_main() && options_.log) {
    int64_t total = 0;
    for (int64_t n : sizes) total += n;
    const double units_share = total ? 100.0 * double(total - sizes[0]) / double(total) : 0.0;
    const double last_share = total && sizes.size() > 1 ? 100.0 * double(sizes.back()) / double(total) : 0.0;
    std::printf("[zeroshard] warning: offload_optimizer.ratio %g with offload_param moves whole units, and none went "
                "to the host (the units hold %.1f%% of the parameters, the last one %.1f%%; the rest stay gathered, "
                "below stage3_param_persistence_threshold), so nothing is offloaded\n", ratio, units_share, last_share);
  }
  return on_host;
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
      const int64_t n = numel_of(u.params);
      m.unit_params += n;
      m.largest_unit = std::max(m.largest_unit, n);
    }
  } catch (const std::invalid_argument&) {
    // Units this model cannot partition (nested, shared): the estimate counts none.
  }
  m.bytes_per_param = int(c10::elementSize(param_dtype_));
  m.unit_grad_bytes = int(c10::elementSize(comm_dtype(config_).value_or(param_dtype_)));
  m.state_floats = state_floats_per_param(config_.optimizer);
  m.world_size = world_.size();
  m.ranks_per_host = std::max(1, world_.info.local_world_size);
  return m;
}

MemoryEstimate Engine::memory_estimate() const {
  return estimate_memory(memory_sizes_, offload_choice(config_), config_.zero);
}

}  // namespace zs
