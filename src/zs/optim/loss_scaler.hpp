// Loss scaling for fp16, with DeepSpeed's rules: dynamic scaling starts at 2^initial_scale_power,
// halves after `hysteresis` overflows, doubles after `loss_scale_window` clean steps, never goes
// below min_loss_scale; a static scale never changes. Disabled (bf16/fp32): scale 1, no checks.
#pragma once

#include <cstdint>

#include "zs/config/config.hpp"

namespace zs {

class LossScaler {
 public:
  LossScaler() = default;                                   // disabled
  LossScaler(const LossScaleConfig& config, bool enabled);

  bool enabled() const { return enabled_; }
  bool dynamic() const { return enabled_ && dynamic_; }
  double scale() const { return scale_; }

  // Call once per optimizer step with whether any rank saw inf/nan. Returns true if the step
  // must be skipped (overflow).
  bool update(bool overflow);

  // For checkpoints.
  struct State {
    double scale;
    int64_t iteration, last_overflow_iteration;
    int hysteresis_left;
  };
  State state() const;
  void load_state(const State& s);

 private:
  bool enabled_ = false, dynamic_ = false;
  LossScaleConfig config_;
  double scale_ = 1.0;
  int64_t iteration_ = 0, last_overflow_iteration_ = -1;
  int hysteresis_left_ = 0;
};

}  // namespace zs
