// Engine: the training calls (backward, step), parameters and counters for checkpoints, and
// stage 3's gathering for user code. Construction is in engine_setup.cpp.
#include "zs/engine/engine.hpp"

#include <algorithm>
#include <cstdio>

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

std::string Engine::offload_summary() const { return optimizer_->offload_summary(); }

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
  // Two backwards in one micro-step would each begin the window's reductions afresh, and the
  // first one's gradients would be lost.
  TORCH_CHECK(!backward_since_step_,
              "Engine::backward was called again before Engine::step. Call engine.step() after every backward, "
              "as with DeepSpeed: it counts the micro-step and updates the parameters at the end of each window "
              "of gradient_accumulation_steps (",
              config_.gradient_accumulation_steps, ") backward passes");
  backward_since_step_ = true;
  if (breakdown_) breakdown_->end(Phase::forward);
  if (flops_profiler_) flops_profiler_->before_backward();
  optimizer_->finish_update();  // an offloaded step still updating units the forward did not run
  const int64_t gas = config_.gradient_accumulation_steps;
  const bool boundary = is_gradient_accumulation_boundary();
  if (boundary && super_offload_obstacle().empty()) {
    // The window's last backward: the CPU update starts on each unit once its gradient is reduced.
    if (scheduler_)
      for (Optimizer* o : optimizer_->optimizers()) apply_scheduled_momentum(*scheduler_, *o, scheduler_steps_);
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
  backward_since_step_ = false;
  const bool boundary = is_gradient_accumulation_boundary();
  ++micro_steps_;
  if (!boundary) return false;

  const double lr = scheduled_lr();
  if (!optimizer_->step_begun_in_backward()) {
    optimizer_->finish_update();
    if (scheduler_)
      for (Optimizer* o : optimizer_->optimizers()) apply_scheduled_momentum(*scheduler_, *o, scheduler_steps_);
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
        SlotStateRange state = optimizer_->slot_state(int(i), lo - own_lo, hi - lo);
        shard.master = std::move(state.master);
        shard.optimizer_state = std::move(state.state);
        shard.state_keys = std::move(state.keys);
        shard.read = std::move(state.read);
        shard.write = std::move(state.write);
      }
      shards.push_back(std::move(shard));
    }
  }
  return shards;
}

// Without a sharded optimizer (stage 0) every rank holds every master and state.
bool Engine::shards_replicated() const { return !StagePolicy::for_stage(config_.zero.stage).shard_optimizer; }

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
  for (Optimizer* o : optimizer_->optimizers()) o->set_steps(c.optimizer_steps);
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
