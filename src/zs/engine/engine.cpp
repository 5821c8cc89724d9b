#include "zs/engine/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unordered_set>

#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include "zs/dist/communicator.hpp"
#include "zs/monitor/progress_bar.hpp"
#include "zs/monitor/step_logger.hpp"
#include "zs/monitor/step_stats.hpp"
#include "zs/optim/loss_scaler.hpp"
#include "zs/optim/lr_scheduler.hpp"
#include "zs/optim/optimizer.hpp"
#include "zs/zero/flat_params.hpp"
#include "zs/zero/grad_reducer.hpp"
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

}  // namespace

Engine::Engine(torch::nn::Module& model, const Config& config, World& world, EngineOptions options)
    : model_(model), config_(config), world_(world), options_(std::move(options)) {
  const StagePolicy policy = StagePolicy::for_stage(config_.zero.stage);
  Communicator& comm = *world_.comm;
  param_dtype_ = dtype_of(config_.precision);
  model_.to(world_.device, param_dtype_);

  // Trainable parameters, each once (tied weights appear under two names), split into the
  // decaying group 0 and the non-decaying group 1, each in reverse registration order: the
  // order backward produces gradients in, so buckets fill one after the other.
  std::vector<NamedParam> groups[2];
  std::unordered_set<const void*> seen;
  for (const auto& item : model_.named_parameters(/*recurse=*/true)) {
    const at::Tensor& t = item.value();
    if (!t.requires_grad() || !seen.insert(t.unsafeGetTensorImpl()).second) continue;
    const bool decays = !options_.decay || options_.decay(item.key(), t);
    groups[decays ? 0 : 1].push_back({item.key(), t});
    num_params_ += t.numel();
  }
  std::vector<NamedParam> params;
  std::vector<int64_t> numels;
  std::vector<int> group_of;
  for (int g = 0; g < 2; ++g) {
    for (auto it = groups[g].rbegin(); it != groups[g].rend(); ++it) {
      numels.push_back(it->tensor.numel());
      group_of.push_back(g);
      params.push_back(*it);
    }
  }
  FlatLayout layout = make_flat_layout(numels, group_of, policy.partitions(world_.size()), config_.zero.reduce_bucket_size);
  flat_ = std::make_unique<FlatParams>(std::move(params), std::move(layout), /*keep_grad_buffer=*/!policy.shard_gradients);

  {
    // Every rank starts from rank 0's weights and buffers.
    c10::NoGradGuard no_grad;
    comm.broadcast(flat_->buffer(), 0)->wait();
    for (auto& buffer : model_.buffers(/*recurse=*/true))
      if (buffer.defined() && buffer.numel() > 0) comm.broadcast(buffer, 0)->wait();
  }

  ReducerOptions reducer_options;
  reducer_options.overlap_comm = config_.zero.overlap_comm;
  reducer_options.use_reduce_scatter = config_.zero.reduce_scatter;
  reducer_options.comm_dtype = comm_dtype(config_);
  reducer_options.prescale = config_.prescale_gradients;
  reducer_options.predivide_factor = config_.gradient_predivide_factor;
  reducer_ = std::make_unique<GradReducer>(*flat_, comm, policy, reducer_options);

  optimizer_ = std::make_unique<ZeroOptimizer>(*flat_, *reducer_, comm, policy, make_optimizer(config_.optimizer),
                                               std::vector<double>{config_.optimizer.weight_decay, 0.0},
                                               config_.zero.allgather_bucket_size);
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

Engine::~Engine() = default;

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
  const int64_t gas = config_.gradient_accumulation_steps;
  reducer_->begin_backward(is_gradient_accumulation_boundary(), micro_steps_ % gas == 0);
  {
    c10::NoGradGuard no_grad;
    loss_sum_.add_(loss.detach().to(at::kFloat));
  }
  // Mean over the accumulation window; the reducer averages over ranks.
  (loss * (scaler_->scale() / double(gas))).backward();
  reducer_->end_backward();
}

bool Engine::step() {
  const bool boundary = is_gradient_accumulation_boundary();
  ++micro_steps_;
  if (!boundary) return false;

  const double lr = scheduled_lr();
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
  const FlatLayout& layout = flat_->layout();
  std::vector<ParamShard> shards;
  shards.reserve(layout.entries.size());
  for (size_t b = 0; b < layout.buckets.size(); ++b) {
    const FlatBucket& bucket = layout.buckets[b];
    const at::Tensor master = optimizer_->master(int(b));
    const int64_t own_lo = optimizer_->own_begin(int(b)), own_hi = own_lo + master.numel();
    const auto state = optimizer_->optimizer().state(int(b));
    for (int i = bucket.first_entry; i < bucket.end_entry; ++i) {
      const FlatEntry& e = layout.entries[i];
      const NamedParam& p = flat_->params()[i];
      ParamShard shard;
      shard.name = p.name;
      shard.shape = p.tensor.sizes().vec();
      const int64_t lo = std::max(own_lo, e.offset), hi = std::min(own_hi, e.offset + e.numel);
      if (lo < hi) {
        shard.begin = lo - e.offset;
        shard.end = hi - e.offset;
        shard.master = master.narrow(0, lo - own_lo, hi - lo);
        for (const auto& [key, tensor] : state) shard.optimizer_state[key] = tensor.narrow(0, lo - own_lo, hi - lo);
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
  optimizer_->optimizer().set_steps(c.optimizer_steps);
  last_lr_ = scheduled_lr();
}

void Engine::refresh_parameters() {
  c10::NoGradGuard no_grad;
  optimizer_->publish_parameters();
}

void Engine::print_summary() const {
  const Config& c = config_;
  for (const auto& w : c.warnings) std::fprintf(stderr, "[zeroshard] warning: %s\n", w.c_str());
  std::printf("[zeroshard] ZeRO stage %d | %s | %d rank(s) on %s (%s) | %.2fM trainable parameters\n", c.zero.stage,
              precision_name(c.precision), world_.size(), world_.device.str().c_str(), world_.comm->backend().c_str(),
              num_params_ / 1e6);
  std::printf("[zeroshard] batch %lld = micro %lld x accumulation %lld x %d ranks | optimizer %s lr %g | clip %g\n",
              (long long)c.train_batch_size, (long long)c.train_micro_batch_size_per_gpu,
              (long long)c.gradient_accumulation_steps, world_.size(), optimizer_ ? c.optimizer.type.c_str() : "?",
              c.optimizer.lr, c.gradient_clipping);
  std::fflush(stdout);
}

}  // namespace zs
