// wall_clock_breakdown, memory_breakdown and comms_logger: the phase clock, the comms table's
// arithmetic, and a 2-rank train_gpt run (real MPI collectives) with all three on.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/run_ranks.hpp"
#include "zs/monitor/comms_logger.hpp"
#include "zs/monitor/phase_timer.hpp"
#include "zs/monitor/step_breakdown.hpp"
#include "support/error_of.hpp"

namespace test_step_breakdown {

using namespace zs::testing;

namespace {

using zs::testing::contains;

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

double extra(const std::vector<std::pair<std::string, double>>& extras, const std::string& name) {
  for (const auto& [n, v] : extras)
    if (n == name) return v;
  ADD_FAILURE() << "no " << name;
  return -1;
}

}  // namespace

TEST(StepBreakdown, PhasesPartitionTheStep) {
  zs::PhaseTimer timer(c10::Device(c10::kCPU));
  // Two micro-steps: forward and backward twice, then the step.
  for (int micro = 0; micro < 2; ++micro) {
    sleep_ms(20);
    timer.end(zs::Phase::forward);
    sleep_ms(40);
    timer.end(zs::Phase::backward);
  }
  sleep_ms(10);
  timer.end(zs::Phase::step);
  const auto s = timer.finish_step();
  EXPECT_NEAR(s[0], 0.040, 0.015);
  EXPECT_NEAR(s[1], 0.080, 0.015);
  EXPECT_NEAR(s[2], 0.010, 0.010);
  // The next step starts where this one ended.
  sleep_ms(5);
  timer.end(zs::Phase::forward);
  timer.end(zs::Phase::backward);
  timer.end(zs::Phase::step);
  const auto next = timer.finish_step();
  EXPECT_GE(next[0], 0.004);
  EXPECT_LT(next[0], 0.05);
}

TEST(StepBreakdown, ExtrasAndPrintedLines) {
  zs::StepBreakdown b(c10::Device(c10::kCPU), true, true, nullptr, 0, 2);
  std::vector<std::string> printed;
  for (int step = 1; step <= 2; ++step) {
    b.end(zs::Phase::forward);
    b.end(zs::Phase::backward);
    sleep_ms(5);
    b.end(zs::Phase::step);
    std::vector<std::pair<std::string, double>> extras;
    printed = b.finish_step(step, extras);
    EXPECT_GE(extra(extras, "elapsed_time_ms_step"), 4.0);
    EXPECT_GT(extra(extras, "memory_allocated_gib_backward"), 0.0);
    EXPECT_GT(extra(extras, "host_rss_gib"), 0.0);
    if (step == 1) {
      EXPECT_TRUE(printed.empty());
    }
  }
  ASSERT_EQ(printed.size(), 2u);
  EXPECT_TRUE(contains(printed[0], "[zeroshard] time (ms) | forward: ")) << printed[0];
  EXPECT_TRUE(contains(printed[0], "| communication: 0.00 (overlaps the phases) | mean of 2 step(s)")) << printed[0];
  EXPECT_TRUE(contains(printed[1], "memory (GiB, the process's resident memory) | after forward: allocated ")) << printed[1];
}

TEST(CommsLogger, RowsBandwidthsAndFilter) {
  EXPECT_DOUBLE_EQ(zs::CommsLogger::bus_factor("all_reduce", 4), 1.5);
  EXPECT_DOUBLE_EQ(zs::CommsLogger::bus_factor("all_gather", 4), 0.75);
  EXPECT_DOUBLE_EQ(zs::CommsLogger::bus_factor("reduce_scatter", 2), 0.5);
  EXPECT_DOUBLE_EQ(zs::CommsLogger::bus_factor("broadcast", 8), 1.0);
  EXPECT_DOUBLE_EQ(zs::CommsLogger::bus_factor("all_to_all", 4), 0.75);

  zs::CommsLoggerConfig config;
  config.enabled = true;
  config.prof_all = false;
  config.prof_ops = {"all_gather", "reduce_scatter"};
  std::ostringstream out;
  zs::CommsLogger logger(config, 0, 4, &out);
  logger.finished("all_gather", 1000000000, 0.5);
  logger.finished("all_gather", 1000000000, 1.5);
  logger.finished("reduce_scatter", 4096, 0.001);
  logger.finished("all_reduce", 4, 0.25);   // not in prof_ops: timed but not logged
  EXPECT_DOUBLE_EQ(logger.take_seconds(), 2.251);
  EXPECT_DOUBLE_EQ(logger.take_seconds(), 0.0);
  const auto rows = logger.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].op, "all_gather");
  EXPECT_EQ(rows[0].count, 2);
  EXPECT_DOUBLE_EQ(rows[0].algbw_gbps, 1.0);    // 2 GB in 2 s
  EXPECT_DOUBLE_EQ(rows[0].busbw_gbps, 0.75);
  EXPECT_EQ(rows[1].op, "reduce_scatter");
  const std::string table = logger.summary();
  EXPECT_TRUE(contains(table, "Comm. Op")) << table;
  EXPECT_TRUE(contains(table, "953.67 MiB")) << table;
  EXPECT_TRUE(contains(table, "4.00 KiB")) << table;
  EXPECT_TRUE(out.str().empty());   // not verbose

  config.prof_all = true;
  config.verbose = true;
  zs::CommsLogger verbose(config, 0, 2, &out);
  verbose.finished("all_reduce", 2048, 0.002);
  EXPECT_TRUE(contains(out.str(), "[zeroshard] comm op: all_reduce | time (ms): 2.000 | msg size: 2.00 KiB")) << out.str();
}

// train_gpt on 2 CPU ranks at stage 2 with wall_clock_breakdown, memory_breakdown and comms_logger.
TEST(StepBreakdown, TrainGptWithEveryBreakdown) {
  const std::string dir = temp_dir("train_breakdown");
  write_text(dir + "/ds.json", R"({
    "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto", "steps_per_print": 2,
    "zero_optimization": {"stage": 2},
    "wall_clock_breakdown": true, "memory_breakdown": true,
    "comms_logger": {"enabled": true, "verbose": false, "prof_all": true}
  })");
  const int steps = 4;
  const RunResult r = run_ranks(
      2,
      bin("train_gpt") + " --device=cpu --n_layer=2 --n_head=2 --n_embd=32 --block_size=32 --batch_size=4 "
                         "--gradient_accumulation_steps=4 --eval_interval=0 --sample_tokens=0 --max_iters=" +
          std::to_string(steps) + " --deepspeed_config=" + dir + "/ds.json --log_jsonl=" + dir + "/metrics.jsonl",
      120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[zeroshard] time (ms) | forward: ")) << r.output;
  EXPECT_TRUE(contains(r.output, "[zeroshard] memory (GiB, the process's resident memory) | after forward:")) << r.output;
  EXPECT_TRUE(contains(r.output, "comms_logger summary (rank 0 of 2")) << r.output;
  EXPECT_TRUE(contains(r.output, "reduce_scatter")) << r.output;
  EXPECT_TRUE(contains(r.output, "all_gather")) << r.output;
  EXPECT_TRUE(contains(r.output, "all_reduce")) << r.output;

  // The phases sum to the step's wall time (the first step included).
  std::ifstream in(dir + "/metrics.jsonl");
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    const auto j = nlohmann::json::parse(line);
    const double sum = j["elapsed_time_ms_forward"].get<double>() + j["elapsed_time_ms_backward"].get<double>() +
                       j["elapsed_time_ms_step"].get<double>();
    const double step_ms = 1e3 * j["seconds"].get<double>();
    EXPECT_NEAR(sum, step_ms, 0.1 * step_ms + 1.0) << line;
    EXPECT_GT(j["elapsed_time_ms_communication"].get<double>(), 0.0) << line;
    EXPECT_GT(j["memory_peak_gib_backward"].get<double>(), 0.0) << line;
    std::printf("step %d: phases %.2f ms of %.2f ms (%.1f%%)\n", n + 1, sum, step_ms, 100.0 * sum / step_ms);
  }
  EXPECT_EQ(n, steps);
}

}  // namespace test_step_breakdown
