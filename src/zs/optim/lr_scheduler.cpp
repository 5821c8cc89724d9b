// WarmupLR, WarmupDecayLR, WarmupCosineLR and OneCycle.
//
// Step indexing. A DeepSpeed-style scheduler is created before training with its iteration at -1
// (which sets the optimizer's first lr), and advanced once after every applied (not skipped)
// optimizer step. So the optimizer step with index `step` (0-based, counting applied steps only)
// runs with the lr the schedule computes for iteration `step - 1`; step 0 gets the schedule's
// "not started" value. Every lr(step) below converts to that iteration first:
//   const int64_t it = step - 1;   // -1 for the first step
#include "zs/optim/lr_scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "zs/optim/optimizer.hpp"

namespace zs {
namespace {

constexpr double kPi = 3.14159265358979323846;

[[noreturn]] void bad(const std::string& message) { throw ConfigError("scheduler.params." + message); }

void check_step(int64_t step) {
  if (step < 0) throw std::invalid_argument("lr schedule: step must be >= 0, got " + std::to_string(step));
}

// The warm-up ramp shared by the Warmup* schedules: 0 at iteration 0 (and before), 1 at the end.
class WarmupRamp {
 public:
  WarmupRamp(const SchedulerConfig& c) : linear_(c.warmup_type == "linear") {
    if (c.warmup_num_steps <= 0) {
      bad("warmup_num_steps must be a positive integer, got " + std::to_string(c.warmup_num_steps));
    }
    if (c.warmup_type != "log" && c.warmup_type != "linear") {
      bad("warmup_type must be \"log\" or \"linear\", got \"" + c.warmup_type + "\"");
    }
    steps_ = std::max<int64_t>(2, c.warmup_num_steps);  // a log ramp needs at least 2 steps
    inverse_log_steps_ = 1.0 / std::log(static_cast<double>(steps_));
  }
  int64_t steps() const { return steps_; }
  bool in_warmup(int64_t it) const { return it < steps_; }
  // Progress in [0, 1) for 0 <= it < steps().
  double progress(int64_t it) const {
    if (linear_) return static_cast<double>(it) / static_cast<double>(steps_);
    return inverse_log_steps_ * std::log(static_cast<double>(it + 1));
  }

 private:
  bool linear_;
  int64_t steps_;
  double inverse_log_steps_;
};

// warmup_min_lr -> warmup_max_lr over the warm-up, then constant (WarmupLR) or a linear decay
// that reaches warmup_min_lr at total_num_steps (WarmupDecayLR).
class WarmupLr : public LrScheduler {
 public:
  WarmupLr(const SchedulerConfig& c, bool decay)
      : ramp_(c), min_lr_(c.warmup_min_lr), delta_lr_(c.warmup_max_lr - c.warmup_min_lr),
        decay_(decay), total_steps_(c.total_num_steps) {
    if (decay && c.total_num_steps <= 0) {
      bad("total_num_steps must be set (> 0) for WarmupDecayLR, got " +
          std::to_string(c.total_num_steps));
    }
  }

  double lr(int64_t step) const override {
    check_step(step);
    const int64_t it = step - 1;
    if (it < 0) return min_lr_;
    return min_lr_ + delta_lr_ * gamma(it);
  }

 private:
  double gamma(int64_t it) const {
    if (ramp_.in_warmup(it)) return ramp_.progress(it);
    if (!decay_) return 1.0;
    const double remaining = static_cast<double>(total_steps_ - it);
    const double span = std::max<double>(1.0, static_cast<double>(total_steps_ - ramp_.steps()));
    return std::max(0.0, remaining / span);
  }

  WarmupRamp ramp_;
  double min_lr_, delta_lr_;
  bool decay_;
  int64_t total_steps_;
};

// Ratios of the optimizer's lr: warmup_min_ratio -> 1 over the warm-up, then a half cosine down
// to cos_min_ratio at total_num_steps, held there afterwards. The first step runs with lr 0.
class WarmupCosineLr : public LrScheduler {
 public:
  WarmupCosineLr(const SchedulerConfig& c, double base_lr)
      : ramp_(c), base_lr_(base_lr), warmup_min_ratio_(c.warmup_min_ratio),
        cos_min_ratio_(c.cos_min_ratio), total_steps_(c.total_num_steps) {
    if (c.total_num_steps <= 0) {
      bad("total_num_steps must be set (> 0) for WarmupCosineLR, got " +
          std::to_string(c.total_num_steps));
    }
  }

  double lr(int64_t step) const override {
    check_step(step);
    const int64_t it = step - 1;
    if (it < 0) return 0.0;
    return base_lr_ * ratio(it);
  }

 private:
  double ratio(int64_t it) const {
    if (ramp_.in_warmup(it)) {
      return warmup_min_ratio_ + ramp_.progress(it) * (1.0 - warmup_min_ratio_);
    }
    const double done = static_cast<double>(it - ramp_.steps() + 1);
    const double span = static_cast<double>(std::max<int64_t>(1, total_steps_ - ramp_.steps()));
    const double progress = std::min(1.0, done / span);
    const double cosine = (1.0 + std::cos(kPi * progress)) / 2.0;
    return std::max(0.0, cos_min_ratio_ + (1.0 - cos_min_ratio_) * cosine);
  }

  WarmupRamp ramp_;
  double base_lr_, warmup_min_ratio_, cos_min_ratio_;
  int64_t total_steps_;
};

// One triangular cycle cycle_min_lr -> cycle_max_lr (first half) -> cycle_min_lr (second half),
// optionally in stairs, then cycle_min_lr / (1 + decay_lr_rate * k / decay_step_size) for the k-th
// step after the cycle. Momentum moves the opposite way between cycle_max_mom and cycle_min_mom.
class OneCycle : public LrScheduler {
 public:
  explicit OneCycle(const SchedulerConfig& c)
      : min_lr_(c.cycle_min_lr), max_lr_(c.cycle_max_lr), decay_lr_rate_(c.decay_lr_rate),
        cycle_momentum_(c.cycle_momentum), min_mom_(c.cycle_min_mom), max_mom_(c.cycle_max_mom),
        decay_mom_rate_(c.decay_mom_rate) {
    if (c.cycle_first_step_size <= 0) {
      bad("cycle_first_step_size must be > 0, got " + std::to_string(c.cycle_first_step_size));
    }
    const int64_t second = c.cycle_second_step_size < 0 ? c.cycle_first_step_size
                                                        : c.cycle_second_step_size;
    if (c.cycle_first_stair_count < 0) {
      bad("cycle_first_stair_count must be >= 0, got " + std::to_string(c.cycle_first_stair_count));
    }
    if (c.decay_step_size < 0) {
      bad("decay_step_size must be >= 0, got " + std::to_string(c.decay_step_size));
    }
    first_size_ = static_cast<double>(c.cycle_first_step_size);
    second_size_ = static_cast<double>(second);
    total_size_ = first_size_ + second_size_;
    step_ratio_ = first_size_ / total_size_;
    first_stairs_ = c.cycle_first_stair_count;
    second_stairs_ = c.cycle_second_stair_count < 0 ? c.cycle_first_stair_count
                                                    : c.cycle_second_stair_count;
    decay_step_size_ = static_cast<double>(c.decay_step_size);
    skip_lr_decay_ = c.decay_step_size == 0 || c.decay_lr_rate == 0.0;
    skip_mom_decay_ = c.decay_step_size == 0 || c.decay_mom_rate == 0.0;
  }

  double lr(int64_t step) const override {
    check_step(step);
    const int64_t it = step - 1;
    if (it < 0) return min_lr_;
    if (static_cast<double>(it) < total_size_) {
      return min_lr_ + (max_lr_ - min_lr_) * scale_factor(step);
    }
    if (skip_lr_decay_) return min_lr_;
    const double decay_interval = (static_cast<double>(step) - total_size_) / decay_step_size_;
    return min_lr_ / (1.0 + decay_lr_rate_ * decay_interval);
  }

  std::optional<double> momentum(int64_t step) const override {
    check_step(step);
    if (!cycle_momentum_) return std::nullopt;
    const int64_t it = step - 1;
    if (it < 0) return min_mom_;  // the schedule's starting value, before any cycling
    if (static_cast<double>(it) < total_size_) {
      return max_mom_ - (max_mom_ - min_mom_) * scale_factor(step);
    }
    if (skip_mom_decay_) return max_mom_;
    const double decay_interval = (static_cast<double>(step) - total_size_) / decay_step_size_;
    return max_mom_ * (1.0 + decay_mom_rate_ * decay_interval);
  }

 private:
  // Position in the cycle for batch `b` (= it + 1): 0 at the ends, 1 at the peak.
  double scale_factor(int64_t b) const {
    const double batch = static_cast<double>(b);
    const double cycle = std::floor(1.0 + batch / total_size_);
    const double x = 1.0 + batch / total_size_ - cycle;
    double scale;
    int64_t stairs;
    if (x <= step_ratio_) {
      scale = x / step_ratio_;
      stairs = first_stairs_;
    } else {
      scale = (x - 1.0) / (step_ratio_ - 1.0);
      stairs = second_stairs_;
    }
    if (stairs > 0) {
      // Stairs are counted from the integer position in the cycle, so a boundary lands exactly.
      const double in_cycle = std::fmod(batch, total_size_);
      const double position = in_cycle <= first_size_
                                  ? in_cycle * static_cast<double>(stairs) / first_size_
                                  : (total_size_ - in_cycle) * static_cast<double>(stairs) / second_size_;
      scale = std::floor(position) / static_cast<double>(stairs);
    }
    return scale;
  }

  double min_lr_, max_lr_, decay_lr_rate_;
  bool cycle_momentum_;
  double min_mom_, max_mom_, decay_mom_rate_;
  double first_size_ = 0, second_size_ = 0, total_size_ = 0, step_ratio_ = 0, decay_step_size_ = 0;
  int64_t first_stairs_ = 0, second_stairs_ = 0;
  bool skip_lr_decay_ = true, skip_mom_decay_ = true;
};

// last_batch_iteration k: the schedule continues after iteration k, so optimizer step `step`
// gets the rate of iteration step + k (instead of step - 1).
class Resumed : public LrScheduler {
 public:
  Resumed(std::unique_ptr<LrScheduler> inner, int64_t last_batch_iteration)
      : inner_(std::move(inner)), offset_(last_batch_iteration + 1) {}
  double lr(int64_t step) const override { return inner_->lr(step + offset_); }
  std::optional<double> momentum(int64_t step) const override { return inner_->momentum(step + offset_); }

 private:
  std::unique_ptr<LrScheduler> inner_;
  int64_t offset_;
};

std::unique_ptr<LrScheduler> make_schedule(const SchedulerConfig& config, double base_lr) {
  if (config.type == "WarmupLR") return std::make_unique<WarmupLr>(config, /*decay=*/false);
  if (config.type == "WarmupDecayLR") return std::make_unique<WarmupLr>(config, /*decay=*/true);
  if (config.type == "WarmupCosineLR") return std::make_unique<WarmupCosineLr>(config, base_lr);
  if (config.type == "OneCycle") return std::make_unique<OneCycle>(config);
  throw ConfigError("scheduler.type: '" + config.type +
                    "' is not supported; use one of WarmupLR, WarmupDecayLR, WarmupCosineLR, OneCycle");
}

}  // namespace

std::unique_ptr<LrScheduler> make_scheduler(const SchedulerConfig& config, double base_lr) {
  auto schedule = make_schedule(config, base_lr);
  if (config.last_batch_iteration < -1)
    throw ConfigError("scheduler.params.last_batch_iteration must be -1 or a step index, got " +
                      std::to_string(config.last_batch_iteration));
  if (config.last_batch_iteration == -1) return schedule;
  return std::make_unique<Resumed>(std::move(schedule), config.last_batch_iteration);
}

void apply_scheduled_momentum(const LrScheduler& scheduler, Optimizer& optimizer, int64_t step) {
  const std::optional<double> momentum = scheduler.momentum(step);
  if (!momentum || !optimizer.has_betas()) return;
  optimizer.set_betas(*momentum, kCycledBeta2);
}

}  // namespace zs
