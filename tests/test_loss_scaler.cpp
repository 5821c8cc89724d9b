// Dynamic loss scaling: hysteresis, window growth, floor, static and disabled scalers.
#include <gtest/gtest.h>

#include "zs/optim/loss_scaler.hpp"

namespace test_loss_scaler {

namespace {

zs::LossScaleConfig dynamic(int power, int window, int hysteresis, double min_scale = 1,
                            bool consecutive = false) {
  zs::LossScaleConfig c;
  c.initial_scale_power = power;
  c.loss_scale_window = window;
  c.hysteresis = hysteresis;
  c.min_loss_scale = min_scale;
  c.consecutive_hysteresis = consecutive;
  return c;
}

}  // namespace

TEST(LossScaler, DefaultsStartAt2To16) {
  zs::LossScaler s(zs::LossScaleConfig{}, true);
  EXPECT_TRUE(s.dynamic());
  EXPECT_EQ(s.scale(), 65536.0);
}

TEST(LossScaler, HysteresisThenWindowGrowth) {
  zs::LossScaler s(dynamic(4, 3, 2), true);
  EXPECT_EQ(s.scale(), 16);
  EXPECT_TRUE(s.update(true));    // it 0: first overflow spends hysteresis, scale kept
  EXPECT_EQ(s.scale(), 16);
  EXPECT_TRUE(s.update(true));    // it 1: second overflow halves
  EXPECT_EQ(s.scale(), 8);
  EXPECT_FALSE(s.update(false));  // it 2..4: clean, 0..2 stable iterations
  EXPECT_FALSE(s.update(false));
  EXPECT_FALSE(s.update(false));
  EXPECT_EQ(s.scale(), 8);
  EXPECT_FALSE(s.update(false));  // it 5: 3 stable iterations = window: doubles, refills
  EXPECT_EQ(s.scale(), 16);
  EXPECT_TRUE(s.update(true));    // it 6: hysteresis refilled: kept
  EXPECT_EQ(s.scale(), 16);
  EXPECT_FALSE(s.update(false));  // it 7
  EXPECT_TRUE(s.update(true));    // it 8: halves
  EXPECT_EQ(s.scale(), 8);
  EXPECT_TRUE(s.update(true));    // it 9: hysteresis stays spent until a window passes: halves
  EXPECT_EQ(s.scale(), 4);

  auto st = s.state();
  EXPECT_EQ(st.iteration, 10);
  EXPECT_EQ(st.last_overflow_iteration, 9);
  EXPECT_EQ(st.hysteresis_left, 1);
}

TEST(LossScaler, GrowsEveryWindowFromTheStart) {
  zs::LossScaler s(dynamic(4, 3, 2), true);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(s.update(false));
  EXPECT_EQ(s.scale(), 16);       // iterations 0..2: stable counts 0, 1, 2
  s.update(false);                // iteration 3: 3 stable
  EXPECT_EQ(s.scale(), 32);
  for (int i = 0; i < 3; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 64);       // iteration 6
}

TEST(LossScaler, ConsecutiveHysteresisRefillsOnEveryCleanStep) {
  zs::LossScaler consecutive(dynamic(4, 1000, 2, 1, /*consecutive=*/true), true);
  consecutive.update(true);
  consecutive.update(false);      // refills
  consecutive.update(true);
  EXPECT_EQ(consecutive.scale(), 16);
  consecutive.update(true);
  EXPECT_EQ(consecutive.scale(), 8);

  zs::LossScaler plain(dynamic(4, 1000, 2), true);
  plain.update(true);
  plain.update(false);            // no refill without a full window
  plain.update(true);
  EXPECT_EQ(plain.scale(), 8);
}

TEST(LossScaler, MinScaleFloor) {
  zs::LossScaler s(dynamic(2, 1000, 1, 1.5), true);  // 4, no hysteresis
  EXPECT_TRUE(s.update(true));
  EXPECT_EQ(s.scale(), 2);
  EXPECT_TRUE(s.update(true));
  EXPECT_EQ(s.scale(), 1.5);     // floored at min_loss_scale
  EXPECT_THROW(s.update(true), std::runtime_error);  // already at the floor: cannot go on

  zs::LossScaler lenient(dynamic(1, 1000, 1, 1.0), true, /*raise_error_at_min_scale=*/false);
  EXPECT_TRUE(lenient.update(true));
  EXPECT_EQ(lenient.scale(), 1);
  EXPECT_TRUE(lenient.update(true));
  EXPECT_EQ(lenient.scale(), 1);
}

TEST(LossScaler, StaticScaleNeverMovesButSkipsOverflows) {
  zs::LossScaleConfig c;
  c.static_scale = 128;
  zs::LossScaler s(c, true);
  EXPECT_TRUE(s.enabled());
  EXPECT_FALSE(s.dynamic());
  EXPECT_EQ(s.scale(), 128);
  EXPECT_TRUE(s.update(true));
  EXPECT_FALSE(s.update(false));
  for (int i = 0; i < 5000; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 128);
}

TEST(LossScaler, DisabledIsOneAndNeverSkips) {
  zs::LossScaler s;
  EXPECT_FALSE(s.enabled());
  EXPECT_EQ(s.scale(), 1);
  EXPECT_FALSE(s.update(true));
  zs::LossScaler t(zs::LossScaleConfig{}, /*enabled=*/false);
  EXPECT_EQ(t.scale(), 1);
  EXPECT_FALSE(t.update(true));
}

TEST(LossScaler, StateRoundTrip) {
  zs::LossScaler a(dynamic(8, 4, 2), true);
  for (bool o : {true, false, true, false, false}) a.update(o);
  zs::LossScaler b(dynamic(8, 4, 2), true);
  b.load_state(a.state());
  for (bool o : {false, false, false, true, true, false, false, false, false, false}) {
    EXPECT_EQ(a.update(o), b.update(o));
    EXPECT_EQ(a.scale(), b.scale());
  }
}

TEST(LossScaler, BadConfig) {
  EXPECT_THROW(zs::LossScaler(dynamic(16, 0, 2), true), zs::ConfigError);
  EXPECT_THROW(zs::LossScaler(dynamic(16, 10, 0), true), zs::ConfigError);
  EXPECT_THROW(zs::LossScaler(dynamic(16, 10, 2, 0.0), true), zs::ConfigError);
  zs::LossScaleConfig c;
  c.static_scale = -1;
  EXPECT_THROW(zs::LossScaler(c, true), zs::ConfigError);
  EXPECT_NO_THROW(zs::LossScaler(c, false));  // fp32/bf16: fp16 settings are not used
}

}  // namespace test_loss_scaler
