// Learning-rate schedules with DeepSpeed's names, parameters and formulas.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "zs/config/config.hpp"

namespace zs {

class Optimizer;

// Step indexing: `step` counts applied optimizer steps from 0 (an overflow-skipped step does
// not advance the schedule). lr(step) is the rate the optimizer uses for that step; note that
// WarmupCosineLR's first step (step 0) runs with lr 0 and OneCycle's with cycle_min_lr/min_mom.
class LrScheduler {
 public:
  virtual ~LrScheduler() = default;
  // Learning rate for the optimizer step with index `step` (0 for the first step), exactly as
  // DeepSpeed's scheduler would have set it before that step.
  virtual double lr(int64_t step) const = 0;
  // Momentum for that step, for schedules that cycle it (OneCycle with cycle_momentum).
  virtual std::optional<double> momentum(int64_t step) const { return std::nullopt; }
};

// `base_lr` is the optimizer's lr (WarmupCosineLR scales it). With last_batch_iteration k >= 0 the
// schedule continues after iteration k: step 0 gets the rate of iteration k. Throws ConfigError on
// bad parameters.
std::unique_ptr<LrScheduler> make_scheduler(const SchedulerConfig& config, double base_lr);

// beta2 that a momentum-cycling schedule pins Adam-family optimizers to.
constexpr double kCycledBeta2 = 0.99;

// Applies the schedule's momentum for `step` (if it cycles momentum) the way DeepSpeed
// does: optimizers with betas get (momentum, kCycledBeta2); optimizers without betas (SGD) keep
// their momentum unchanged.
void apply_scheduled_momentum(const LrScheduler& scheduler, Optimizer& optimizer, int64_t step);

}  // namespace zs
