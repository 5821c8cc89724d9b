// Monitor: step-line formatting and throughput/MFU arithmetic, the logger's windows, memory, progress bar.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "zs/monitor/format.hpp"
#include "zs/monitor/memory.hpp"
#include "zs/monitor/progress_bar.hpp"
#include "zs/monitor/step_logger.hpp"
#include "zs/monitor/timer.hpp"
#include "support/error_of.hpp"

namespace test_monitor {

namespace {

zs::StepStats step_stats(int64_t step, double seconds) {
  zs::StepStats s;
  s.step = step;
  s.loss = 1.23456;
  s.lr = 6e-4;
  s.loss_scale = 65536;
  s.grad_norm = 0.514;
  s.samples = 64;
  s.tokens = 64 * 1024;
  s.seconds = seconds;
  return s;
}

using zs::testing::contains;

}  // namespace

TEST(Monitor, ThroughputAndMfuArithmetic) {
  // 10 steps of 0.5 s, 65536 tokens and 64 samples each, on 2 devices.
  zs::StepWindow w;
  w.timed_steps = 10;
  w.tokens = 10 * 65536;
  w.samples = 10 * 64;
  w.seconds = 5.0;
  const auto t = zs::compute_throughput(w, 2, 1e9, 1e14);
  ASSERT_TRUE(t.valid);
  EXPECT_DOUBLE_EQ(t.tokens_per_s_per_device, 65536.0);
  EXPECT_DOUBLE_EQ(t.samples_per_s, 128.0);
  EXPECT_DOUBLE_EQ(t.ms_per_step, 500.0);
  ASSERT_TRUE(t.mfu.has_value());
  EXPECT_DOUBLE_EQ(*t.mfu, 65536.0 * 1e9 / 1e14);
  EXPECT_FALSE(zs::compute_throughput(w, 2, 1e9, 0.0).mfu.has_value());
  EXPECT_FALSE(zs::compute_throughput(zs::StepWindow{}, 2, 1e9, 1e14).valid);
}

TEST(Monitor, StepLineFormat) {
  zs::StepWindow w{10, 10 * 65536, 10 * 64, 5.0, 0};
  zs::MemoryStats mem{static_cast<int64_t>(1.23 * (1 << 30)), static_cast<int64_t>(2.34 * (1 << 30)), 0};
  auto line = zs::format_step_line(step_stats(100, 0.5), 5000, zs::compute_throughput(w, 2, 1e9, 1e14), mem);
  EXPECT_EQ(line,
            "step 100/5000 | loss 1.2346 | lr 6.00e-04 | scale 65536 | grad norm 0.514 | 65.5k tok/s | "
            "128.0 samples/s | MFU 65.5% | mem 1.23 GiB (peak 2.34) | 500.00 ms/step");

  // No loss scale at 1, no grad norm when unknown, MFU "-" without a peak, no memory column without stats.
  auto s = step_stats(7, 0.5);
  s.loss_scale = 1.0;
  s.grad_norm = -1.0;
  line = zs::format_step_line(s, 0, zs::compute_throughput(w, 2, 1e9, 0.0), std::nullopt, 2);
  EXPECT_EQ(line, "step 7 | loss 1.2346 | lr 6.00e-04 | 65.5k tok/s | 128.0 samples/s | MFU - | 500.00 ms/step | "
                  "2 skipped (overflow)");
}

TEST(Monitor, LoggerAveragesWindowsAndSkipsWarmup) {
  std::ostringstream out;
  // Peak given explicitly, so MFU shows on CPU too.
  zs::StepLogger logger(0, 5, 1e9, 1e14, 2, 10, c10::Device(c10::kCPU), &out);
  std::vector<std::string> lines;
  for (int64_t step = 1; step <= 10; ++step) {
    // Step 1 is slow warm-up; steps 2-5 take 0.5 s, steps 6-10 take 0.25 s.
    const double seconds = step == 1 ? 100.0 : (step <= 5 ? 0.5 : 0.25);
    if (auto line = logger.log(step_stats(step, seconds))) lines.push_back(*line);
  }
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(contains(lines[0], "step 5/10 |")) << lines[0];
  EXPECT_TRUE(contains(lines[0], "| 65.5k tok/s | 128.0 samples/s | MFU 65.5% |")) << lines[0];
  EXPECT_TRUE(contains(lines[0], "| 500.00 ms/step")) << lines[0];
  EXPECT_TRUE(contains(lines[0], "| mem ")) << lines[0];
  EXPECT_TRUE(contains(lines[1], "step 10/10 |")) << lines[1];
  EXPECT_TRUE(contains(lines[1], "| 131.1k tok/s | 256.0 samples/s | MFU 131.1% |")) << lines[1];
  EXPECT_TRUE(contains(lines[1], "| 250.00 ms/step")) << lines[1];
  // Header once, then the two lines.
  const std::string text = out.str();
  EXPECT_TRUE(contains(text, "training on 2 ranks (cpu): tok/s and MFU are per rank")) << text;
  EXPECT_FALSE(contains(text, "GPU")) << text;
  EXPECT_EQ(text.find("training on"), text.rfind("training on"));
  EXPECT_TRUE(contains(text, lines[0] + "\n" + lines[1] + "\n"));
}

TEST(Monitor, OnlyRankZeroPrintsAndCpuHasNoDefaultPeak) {
  std::ostringstream out;
  zs::StepLogger rank1(1, 1, 1e9, 0.0, 2, 10, c10::Device(c10::kCPU), &out);
  for (int64_t step = 1; step <= 3; ++step) EXPECT_FALSE(rank1.log(step_stats(step, 0.1)).has_value());
  EXPECT_TRUE(out.str().empty());

  zs::StepLogger cpu(0, 1, 1e9, 0.0, 1, 10, c10::Device(c10::kCPU), &out);
  EXPECT_EQ(cpu.peak_flops(), 0.0);
  auto first = cpu.log(step_stats(1, 0.1));  // only the warm-up step: no rates yet
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(contains(*first, "- tok/s")) << *first;
  auto second = cpu.log(step_stats(2, 0.1));
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(contains(*second, "MFU -")) << *second;
  EXPECT_TRUE(contains(*second, "655.4k tok/s")) << *second;

  zs::StepLogger cuda(0, 1, 1e9, 0.0, 1, 10, c10::Device(c10::kCUDA, 0), &out);
  EXPECT_EQ(cuda.peak_flops(), zs::kDefaultCudaPeakFlops);
}

// Models without tokens (a CNN): samples/s alone, no "0 tok/s" and no MFU.
TEST(Monitor, StepsWithoutTokensShowSamplesOnly) {
  std::ostringstream out;
  zs::StepLogger logger(0, 2, 0.0, 0.0, 2, 4, c10::Device(c10::kCPU), &out);
  std::vector<std::string> lines;
  for (int64_t step = 1; step <= 4; ++step) {
    zs::StepStats s = step_stats(step, 0.5);
    s.tokens = 0;
    if (auto line = logger.log(s)) lines.push_back(*line);
  }
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(contains(lines[0], "| 128.0 samples/s (64.0 per rank) |")) << lines[0];
  EXPECT_FALSE(contains(lines[0], "tok/s")) << lines[0];
  EXPECT_FALSE(contains(lines[0], "MFU")) << lines[0];
  EXPECT_TRUE(contains(out.str(), "training on 2 ranks (cpu): samples/s for all ranks (and per rank)")) << out.str();
  zs::StepStats first = step_stats(1, 0.5);
  first.tokens = 0;
  EXPECT_EQ(zs::format_step_line(first, 0, zs::Throughput{}, std::nullopt), "step 1 | loss 1.2346 | lr 6.00e-04 | scale 65536 | grad norm 0.514 | - samples/s | - ms/step");
  zs::StepLogger gpu(0, 1, 1e9, 0.0, 2, 4, c10::Device(c10::kCUDA, 0), &out);
  EXPECT_TRUE(contains(gpu.header(), "training on 2 GPUs (cuda): tok/s and MFU are per GPU")) << gpu.header();
  // A CNN's lines count images.
  zs::StepLogger images(0, 1, 0.0, 0.0, 2, 4, c10::Device(c10::kCPU), &out);
  images.set_sample_name("images");
  EXPECT_TRUE(contains(images.header(false), "images/s for all ranks (and per rank)")) << images.header(false);
  EXPECT_EQ(zs::format_step_line(first, 0, zs::Throughput{}, std::nullopt, 0, "images"),
            "step 1 | loss 1.2346 | lr 6.00e-04 | scale 65536 | grad norm 0.514 | - images/s | - ms/step");
}

TEST(Monitor, CpuMemoryIsResidentSetSize) {
  const auto before = zs::device_memory(c10::Device(c10::kCPU));
  EXPECT_GT(before.allocated, 0);
  EXPECT_GE(before.peak_allocated, before.allocated);
  EXPECT_EQ(before.reserved, before.allocated);
  // Touch 64 MiB: the resident set and its peak grow.
  std::vector<char> block(64 << 20, 1);
  const auto after = zs::device_memory(c10::Device(c10::kCPU));
  EXPECT_GT(after.peak_allocated, before.allocated + (32 << 20));
  EXPECT_NO_THROW(zs::reset_peak_memory(c10::Device(c10::kCPU)));
  EXPECT_GT(static_cast<int>(block[12345]), 0);
}

TEST(Monitor, Formatting) {
  EXPECT_EQ(zs::format_si(950), "950");
  EXPECT_EQ(zs::format_si(123456), "123.5k");
  EXPECT_EQ(zs::format_si(2.5e6), "2.50M");
  EXPECT_EQ(zs::format_si(3.1e9), "3.10G");
  EXPECT_EQ(zs::format_gib(int64_t(3) << 29), "1.50 GiB");
  EXPECT_EQ(zs::format_duration(45), "45s");
  EXPECT_EQ(zs::format_duration(725), "12m05s");
  EXPECT_EQ(zs::format_duration(3 * 3600 + 120), "3h02m");
}

TEST(Monitor, ProgressBar) {
  EXPECT_EQ(zs::ProgressBar::render("train", 50, 100, 10.0, 12, "loss 1.0"),
            "train [#####.....] 50/100  5.00 it/s  ETA 10s  loss 1.0");
  EXPECT_EQ(zs::ProgressBar::render("eval", 0, 4, 0.0, 6, ""), "eval [....] 0/4");
  // Disabled (not rank 0) bars never draw.
  zs::ProgressBar off(10, false);
  EXPECT_FALSE(off.active());
  off.update(5);
  off.finish();
}

TEST(Monitor, StopwatchMeasuresTime) {
  zs::Stopwatch w;
  volatile double x = 0;
  for (int i = 0; i < 1000000; ++i) x = x + 1;
  const double lap = w.lap();
  EXPECT_GT(lap, 0.0);
  EXPECT_LT(w.seconds(), lap + 1.0);
}

}  // namespace test_monitor
