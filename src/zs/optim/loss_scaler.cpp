// Dynamic loss scaling with hysteresis. Iterations count every update() call (skipped steps
// included); the scale doubles when `loss_scale_window` iterations passed since the last overflow.
#include "zs/optim/loss_scaler.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace zs {

LossScaler::LossScaler(const LossScaleConfig& config, bool enabled, bool raise_error_at_min_scale)
    : enabled_(enabled), config_(config), raise_error_at_min_scale_(raise_error_at_min_scale) {
  if (!enabled_) return;
  if (config.static_scale < 0) {
    throw ConfigError("fp16.loss_scale must be >= 0 (0 means dynamic), got " +
                      std::to_string(config.static_scale));
  }
  dynamic_ = config.static_scale == 0;
  if (!dynamic_) {
    scale_ = config.static_scale;
    return;
  }
  if (config.initial_scale_power < 0 || config.initial_scale_power > 126) {
    throw ConfigError("fp16.initial_scale_power must be in [0, 126], got " +
                      std::to_string(config.initial_scale_power));
  }
  if (config.loss_scale_window <= 0) {
    throw ConfigError("fp16.loss_scale_window must be > 0, got " +
                      std::to_string(config.loss_scale_window));
  }
  if (config.hysteresis <= 0) {
    throw ConfigError("fp16.hysteresis must be > 0, got " + std::to_string(config.hysteresis));
  }
  if (!(config.min_loss_scale > 0)) {
    throw ConfigError("fp16.min_loss_scale must be > 0, got " +
                      std::to_string(config.min_loss_scale));
  }
  scale_ = std::ldexp(1.0, config.initial_scale_power);
  hysteresis_left_ = config.hysteresis;
}

bool LossScaler::update(bool overflow) {
  if (!enabled_) return false;
  if (!dynamic_) return overflow;  // a static scale never moves, but an overflow still skips

  if (overflow) {
    if (config_.hysteresis == 1 || hysteresis_left_ == 1) {
      // Hysteresis used up: lower the scale (it stays at one until a window refills it).
      if (scale_ == config_.min_loss_scale && raise_error_at_min_scale_) {
        throw std::runtime_error(
            "fp16 loss scale is already at fp16.min_loss_scale (" +
            std::to_string(config_.min_loss_scale) +
            ") and gradients still overflow; cannot lower it further. Check the model for "
            "inf/nan, lower the learning rate, or use bf16.");
      }
      scale_ = std::max(scale_ / kScaleFactor, config_.min_loss_scale);
    } else {
      --hysteresis_left_;
    }
    last_overflow_iteration_ = iteration_;
  } else {
    if (config_.consecutive_hysteresis) hysteresis_left_ = config_.hysteresis;
    const int64_t stable_iterations = iteration_ - last_overflow_iteration_ - 1;
    if (stable_iterations > 0 && stable_iterations % config_.loss_scale_window == 0) {
      if (!config_.consecutive_hysteresis) hysteresis_left_ = config_.hysteresis;
      scale_ *= kScaleFactor;
    }
  }
  ++iteration_;
  return overflow;
}

LossScaler::State LossScaler::state() const {
  return State{scale_, iteration_, last_overflow_iteration_, hysteresis_left_};
}

void LossScaler::load_state(const State& s) {
  scale_ = s.scale;
  iteration_ = s.iteration;
  last_overflow_iteration_ = s.last_overflow_iteration;
  hysteresis_left_ = s.hysteresis_left;
}

}  // namespace zs
