// Learning-rate schedules with DeepSpeed's names, parameters and formulas.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "zs/config/config.hpp"

namespace zs {

class LrScheduler {
 public:
  virtual ~LrScheduler() = default;
  // Learning rate for the optimizer step with index `step` (0 for the first step), exactly as
  // DeepSpeed's scheduler would have set it before that step.
  virtual double lr(int64_t step) const = 0;
  // Momentum for that step, for schedules that cycle it (OneCycle with cycle_momentum).
  virtual std::optional<double> momentum(int64_t step) const { return std::nullopt; }
};

// `base_lr` is the optimizer's lr (WarmupCosineLR scales it). Throws ConfigError on bad parameters.
std::unique_ptr<LrScheduler> make_scheduler(const SchedulerConfig& config, double base_lr);

}  // namespace zs
