// LR schedules at chosen steps, against values worked out by hand from the schedule definitions.
// Step indexing: lr(step) is the rate of the optimizer step `step` (0-based); the schedule's own
// iteration for that step is step - 1 (the first step sees the schedule's starting value).
#include <gtest/gtest.h>

#include <cmath>

#include "zs/optim/lr_scheduler.hpp"

namespace test_lr_scheduler {

namespace {

constexpr double kPi = 3.14159265358979323846;

zs::SchedulerConfig warmup(const std::string& type, double min_lr, double max_lr, int64_t steps,
                           const std::string& warmup_type) {
  zs::SchedulerConfig c;
  c.type = type;
  c.warmup_min_lr = min_lr;
  c.warmup_max_lr = max_lr;
  c.warmup_num_steps = steps;
  c.warmup_type = warmup_type;
  return c;
}

}  // namespace

TEST(LrScheduler, WarmupLrLog) {
  auto s = zs::make_scheduler(warmup("WarmupLR", 0.0, 0.01, 10, "log"), 0.5);
  EXPECT_DOUBLE_EQ(s->lr(0), 0.0);                                  // before any iteration
  EXPECT_DOUBLE_EQ(s->lr(1), 0.0);                                  // log(1) = 0
  EXPECT_DOUBLE_EQ(s->lr(2), 0.01 * std::log(2.0) / std::log(10.0));
  EXPECT_DOUBLE_EQ(s->lr(5), 0.01 * std::log(5.0) / std::log(10.0));
  EXPECT_DOUBLE_EQ(s->lr(10), 0.01);                                // last warm-up iteration
  EXPECT_DOUBLE_EQ(s->lr(11), 0.01);
  EXPECT_DOUBLE_EQ(s->lr(100000), 0.01);
  EXPECT_FALSE(s->momentum(3).has_value());
}

TEST(LrScheduler, WarmupLrLinear) {
  auto s = zs::make_scheduler(warmup("WarmupLR", 0.001, 0.011, 10, "linear"), 0.5);
  EXPECT_DOUBLE_EQ(s->lr(0), 0.001);
  EXPECT_DOUBLE_EQ(s->lr(1), 0.001);
  EXPECT_NEAR(s->lr(5), 0.001 + 0.01 * 4 / 10, 1e-15);
  EXPECT_NEAR(s->lr(10), 0.001 + 0.01 * 9 / 10, 1e-15);             // linear stops short of max
  EXPECT_DOUBLE_EQ(s->lr(11), 0.011);
  EXPECT_DOUBLE_EQ(s->lr(5000), 0.011);
}

TEST(LrScheduler, WarmupLrOneStepWarmupActsAsTwo) {
  // A log ramp needs two steps; one is widened to two.
  auto s = zs::make_scheduler(warmup("WarmupLR", 0.0, 1.0, 1, "linear"), 0.5);
  EXPECT_DOUBLE_EQ(s->lr(1), 0.0);
  EXPECT_DOUBLE_EQ(s->lr(2), 0.5);
  EXPECT_DOUBLE_EQ(s->lr(3), 1.0);
}

TEST(LrScheduler, WarmupDecayLr) {
  auto c = warmup("WarmupDecayLR", 0.0, 0.01, 10, "linear");
  c.total_num_steps = 110;
  auto s = zs::make_scheduler(c, 0.5);
  EXPECT_DOUBLE_EQ(s->lr(0), 0.0);
  EXPECT_NEAR(s->lr(6), 0.01 * 5 / 10, 1e-15);
  EXPECT_DOUBLE_EQ(s->lr(11), 0.01);                     // iteration 10: (110-10)/(110-10)
  EXPECT_NEAR(s->lr(61), 0.01 * 50.0 / 100.0, 1e-15);    // iteration 60
  EXPECT_NEAR(s->lr(110), 0.01 * 1.0 / 100.0, 1e-15);    // iteration 109
  EXPECT_DOUBLE_EQ(s->lr(111), 0.0);                     // iteration 110 = total_num_steps
  EXPECT_DOUBLE_EQ(s->lr(500), 0.0);                     // past the end: clamped

  // The decay ends at warmup_min_lr.
  c.warmup_min_lr = 0.002;
  auto t = zs::make_scheduler(c, 0.5);
  EXPECT_NEAR(t->lr(61), 0.002 + 0.008 * 0.5, 1e-15);
  EXPECT_DOUBLE_EQ(t->lr(111), 0.002);
  EXPECT_DOUBLE_EQ(t->lr(1000), 0.002);
}

TEST(LrScheduler, WarmupCosineLr) {
  zs::SchedulerConfig c;
  c.type = "WarmupCosineLR";
  c.warmup_num_steps = 10;
  c.warmup_type = "linear";
  c.warmup_min_ratio = 0.1;
  c.cos_min_ratio = 0.01;
  c.total_num_steps = 110;
  const double base = 0.1;
  auto s = zs::make_scheduler(c, base);
  EXPECT_DOUBLE_EQ(s->lr(0), 0.0);                              // the first step runs at lr 0
  EXPECT_NEAR(s->lr(1), base * 0.1, 1e-15);                     // iteration 0: warmup_min_ratio
  EXPECT_NEAR(s->lr(6), base * (0.1 + 0.5 * 0.9), 1e-15);       // iteration 5
  // Iteration 10: the first cosine iteration, progress 1/100.
  EXPECT_NEAR(s->lr(11), base * (0.01 + 0.99 * (1 + std::cos(kPi * 0.01)) / 2), 1e-15);
  EXPECT_NEAR(s->lr(60), base * (0.01 + 0.99 * 0.5), 1e-15);    // iteration 59: half way
  EXPECT_NEAR(s->lr(110), base * 0.01, 1e-15);                  // iteration 109: the end
  EXPECT_NEAR(s->lr(111), base * 0.01, 1e-15);                  // held past the end
  EXPECT_NEAR(s->lr(100000), base * 0.01, 1e-15);

  c.warmup_type = "log";
  auto l = zs::make_scheduler(c, base);
  EXPECT_NEAR(l->lr(3), base * (0.1 + 0.9 * std::log(3.0) / std::log(10.0)), 1e-15);
  EXPECT_NEAR(l->lr(10), base * 1.0, 1e-15);                    // iteration 9: ratio 1
}

namespace {

zs::SchedulerConfig one_cycle(int64_t first, int64_t second) {
  zs::SchedulerConfig c;
  c.type = "OneCycle";
  c.cycle_min_lr = 0.001;
  c.cycle_max_lr = 0.01;
  c.cycle_first_step_size = first;
  c.cycle_second_step_size = second;
  c.cycle_min_mom = 0.8;
  c.cycle_max_mom = 0.9;
  return c;
}

}  // namespace

TEST(LrScheduler, OneCycleTriangle) {
  auto s = zs::make_scheduler(one_cycle(4, -1), 1.0);  // second half = first = 4 steps
  EXPECT_DOUBLE_EQ(s->lr(0), 0.001);
  EXPECT_NEAR(s->lr(1), 0.001 + 0.009 * 0.25, 1e-15);
  EXPECT_NEAR(s->lr(2), 0.001 + 0.009 * 0.5, 1e-15);
  EXPECT_NEAR(s->lr(4), 0.01, 1e-15);                    // the peak
  EXPECT_NEAR(s->lr(5), 0.001 + 0.009 * 0.75, 1e-15);
  EXPECT_NEAR(s->lr(7), 0.001 + 0.009 * 0.25, 1e-15);
  EXPECT_NEAR(s->lr(8), 0.001, 1e-15);                   // the cycle's end
  EXPECT_DOUBLE_EQ(s->lr(9), 0.001);                     // after the cycle, no decay set
  EXPECT_DOUBLE_EQ(s->lr(1000), 0.001);

  // Momentum mirrors the lr; the first step uses cycle_min_mom (the schedule's start value).
  EXPECT_DOUBLE_EQ(*s->momentum(0), 0.8);
  EXPECT_NEAR(*s->momentum(1), 0.9 - 0.1 * 0.25, 1e-15);
  EXPECT_NEAR(*s->momentum(4), 0.8, 1e-15);
  EXPECT_NEAR(*s->momentum(8), 0.9, 1e-15);
  EXPECT_DOUBLE_EQ(*s->momentum(20), 0.9);
}

TEST(LrScheduler, OneCycleAsymmetric) {
  auto s = zs::make_scheduler(one_cycle(2, 6), 1.0);
  EXPECT_NEAR(s->lr(1), 0.001 + 0.009 * 0.5, 1e-15);
  EXPECT_NEAR(s->lr(2), 0.01, 1e-15);
  EXPECT_NEAR(s->lr(5), 0.001 + 0.009 * 0.5, 1e-15);     // 3 of 6 down
  EXPECT_NEAR(s->lr(8), 0.001, 1e-15);
}

TEST(LrScheduler, OneCycleStairs) {
  auto c = one_cycle(4, -1);
  c.cycle_first_stair_count = 2;  // second: same as first
  auto s = zs::make_scheduler(c, 1.0);
  const double mid = 0.001 + 0.009 * 0.5;
  EXPECT_NEAR(s->lr(1), 0.001, 1e-15);
  EXPECT_NEAR(s->lr(2), mid, 1e-15);
  EXPECT_NEAR(s->lr(3), mid, 1e-15);
  EXPECT_NEAR(s->lr(4), 0.01, 1e-15);
  EXPECT_NEAR(s->lr(5), mid, 1e-15);
  EXPECT_NEAR(s->lr(6), mid, 1e-15);
  EXPECT_NEAR(s->lr(7), 0.001, 1e-15);
}

TEST(LrScheduler, OneCycleDecayAfterCycle) {
  auto c = one_cycle(4, -1);
  c.decay_lr_rate = 0.5;
  c.decay_step_size = 2;
  c.decay_mom_rate = 0.1;
  auto s = zs::make_scheduler(c, 1.0);
  EXPECT_NEAR(s->lr(8), 0.001, 1e-15);                   // last cycle step
  EXPECT_NEAR(s->lr(9), 0.001 / (1 + 0.5 * 0.5), 1e-15); // 1 step after: interval 1/2
  EXPECT_NEAR(s->lr(12), 0.001 / (1 + 0.5 * 2), 1e-15);  // 4 steps after: interval 2
  EXPECT_NEAR(*s->momentum(12), 0.9 * (1 + 0.1 * 2), 1e-15);

  c.cycle_momentum = false;
  auto t = zs::make_scheduler(c, 1.0);
  EXPECT_FALSE(t->momentum(3).has_value());
}

TEST(LrScheduler, LastBatchIterationContinuesTheSchedule) {
  // last_batch_iteration k: the first step gets the rate of iteration k, as a run that had done
  // k + 1 steps would give its next step.
  const auto fresh = zs::make_scheduler(warmup("WarmupLR", 0.0, 0.01, 10, "linear"), 0.5);
  auto c = warmup("WarmupLR", 0.0, 0.01, 10, "linear");
  c.last_batch_iteration = 4;
  const auto resumed = zs::make_scheduler(c, 0.5);
  for (int64_t step = 0; step < 20; ++step) EXPECT_DOUBLE_EQ(resumed->lr(step), fresh->lr(step + 5)) << step;
  c.last_batch_iteration = -2;
  EXPECT_THROW(zs::make_scheduler(c, 0.5), zs::ConfigError);
}

TEST(LrScheduler, Errors) {
  zs::SchedulerConfig c;
  c.type = "StepLR";
  EXPECT_THROW(zs::make_scheduler(c, 0.1), zs::ConfigError);
  c = warmup("WarmupDecayLR", 0, 0.01, 10, "log");  // total_num_steps missing
  EXPECT_THROW(zs::make_scheduler(c, 0.1), zs::ConfigError);
  c = warmup("WarmupLR", 0, 0.01, 0, "log");
  EXPECT_THROW(zs::make_scheduler(c, 0.1), zs::ConfigError);
  c = warmup("WarmupLR", 0, 0.01, 10, "cubic");
  EXPECT_THROW(zs::make_scheduler(c, 0.1), zs::ConfigError);
  c = one_cycle(0, -1);
  EXPECT_THROW(zs::make_scheduler(c, 0.1), zs::ConfigError);
  auto s = zs::make_scheduler(warmup("WarmupLR", 0, 0.01, 10, "log"), 0.1);
  EXPECT_THROW(s->lr(-1), std::invalid_argument);
}

}  // namespace test_lr_scheduler
