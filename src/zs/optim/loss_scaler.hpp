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
  // `enabled`: fp16 training. With raise_error_at_min_scale, an overflow that would lower the
  // scale below min_loss_scale when it is already there throws (the run cannot recover); without
  // it the scale stays at the floor and the step is skipped. Throws ConfigError on bad values.
  LossScaler(const LossScaleConfig& config, bool enabled, bool raise_error_at_min_scale = true);

  bool enabled() const { return enabled_; }
  bool dynamic() const { return enabled_ && dynamic_; }
  double scale() const { return scale_; }

  // Call once per optimizer step with whether any rank saw inf/nan. Returns true if the step
  // must be skipped (overflow). The new scale applies to the next step's loss.
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
  static constexpr double kScaleFactor = 2.0;

  bool enabled_ = false, dynamic_ = false;
  LossScaleConfig config_;
  bool raise_error_at_min_scale_ = true;
  double scale_ = 1.0;
  int64_t iteration_ = 0, last_overflow_iteration_ = -1;
  int hysteresis_left_ = 0;
};

}  // namespace zs
