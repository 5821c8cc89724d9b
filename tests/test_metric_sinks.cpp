// Metric sinks: the TFRecord framing and its CRC, the CSV files and the JSON-lines log, and
// TensorBoard's own reader (the `tensorboard` package from PyPI, in the git-ignored environment
// scripts/monitor_venv.sh makes) loading our event files, from a unit test and from a 2-rank
// train_gpt run with tensorboard, csv_monitor and --log_jsonl on.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/run_ranks.hpp"
#include "zs/config/config.hpp"
#include "zs/monitor/csv_sink.hpp"
#include "zs/monitor/jsonl_sink.hpp"
#include "zs/monitor/metric_sinks.hpp"
#include "zs/monitor/tensorboard_event.hpp"
#include "zs/monitor/tensorboard_sink.hpp"
#include "zs/monitor/tfrecord.hpp"

namespace test_metric_sinks {

using namespace zs::testing;
namespace fs = std::filesystem;

namespace {

// ctest makes the environment first (MonitorEnv, tests/CMakeLists.txt); the script then only names it.
const std::string& monitor_python() {
  static const std::string python = [] {
    const RunResult r = run_command(std::string(ZS_SOURCE_DIR) + "/scripts/monitor_venv.sh", 1200);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::string out = r.output;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out.substr(out.find_last_of('\n') + 1);
  }();
  return python;
}

// TensorBoard's reader over a log folder: tag -> [[step, value], ...].
nlohmann::json read_tensorboard(const std::string& dir) {
  const RunResult r =
      run_command(monitor_python() + " " + std::string(ZS_SOURCE_DIR) + "/tests/monitor/read_tensorboard.py " + dir, 120);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::string out = r.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return nlohmann::json::parse(out.substr(out.find_last_of('\n') + 1));
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

zs::StepStats stats_of(int64_t step) {
  zs::StepStats s;
  s.step = step;
  s.loss = 4.0 / double(step);
  s.lr = 1e-3 * double(step);
  s.loss_scale = 1024;
  s.loss_scaling = true;
  s.samples = 8;
  s.tokens = 8 * 16;
  s.global_samples = 8 * step;
  s.seconds = 0.5;
  s.extras = {{"elapsed_time_ms_forward", 12.5}};
  return s;
}

}  // namespace

TEST(MetricSinks, Crc32cAndRecordFraming) {
  // The check value of CRC-32C, and TFRecord's mask.
  EXPECT_EQ(zs::crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(zs::crc32c("", 0), 0u);
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(zs::masked_crc32c("123456789", 9), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
  const std::string record = zs::tfrecord_frame("abc");
  ASSERT_EQ(record.size(), 8u + 4 + 3 + 4);
  EXPECT_EQ(record.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(record.substr(12, 3), "abc");
}

TEST(MetricSinks, DeepSpeedTagsAndLogFolder) {
  const auto events = zs::deepspeed_events(stats_of(3));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].tag, "Train/Samples/train_loss");
  EXPECT_EQ(events[1].tag, "Train/Samples/lr");
  EXPECT_EQ(events[2].tag, "Train/Samples/loss_scale");
  EXPECT_EQ(events[3].tag, "Train/Samples/elapsed_time_ms_forward");
  for (const auto& e : events) EXPECT_EQ(e.step, 24);   // DeepSpeed's x axis: samples so far
  zs::StepStats bf16 = stats_of(3);
  bf16.loss_scaling = false;
  EXPECT_EQ(zs::deepspeed_events(bf16).size(), 3u);     // no loss scale without fp16
  zs::MonitorConfig m;
  m.output_path = "runs";
  m.job_name = "gpt";
  EXPECT_EQ(zs::MetricSinks::log_dir(m), "runs/gpt");
  m.output_path = "";
  EXPECT_EQ(zs::MetricSinks::log_dir(m), "gpt");        // DeepSpeed: "" is the current directory
  EXPECT_EQ(zs::CsvSink::file_name("Train/Samples/train_loss"), "Train_Samples_train_loss.csv");
}

TEST(MetricSinks, CsvFilesAsDeepSpeedLaysThemOut) {
  const std::string dir = temp_dir("csv_sink") + "/run/job";
  {
    zs::CsvSink sink(dir);
    for (int step = 1; step <= 3; ++step) sink.write(stats_of(step));
  }
  {
    zs::CsvSink resumed(dir);   // a resumed run appends, without a second header
    resumed.write(stats_of(4));
  }
  const auto loss = lines_of(dir + "/Train_Samples_train_loss.csv");
  ASSERT_EQ(loss.size(), 5u);
  EXPECT_EQ(loss[0], "step,train_loss");
  EXPECT_EQ(loss[1], "8,4");
  EXPECT_EQ(loss[2], "16,2");
  EXPECT_EQ(loss[4], "32,1");
  const auto lr = lines_of(dir + "/Train_Samples_lr.csv");
  ASSERT_EQ(lr.size(), 5u);
  EXPECT_EQ(lr[0], "step,lr");
  EXPECT_EQ(lr[1], "8,0.001");
  EXPECT_EQ(lines_of(dir + "/Train_Samples_loss_scale.csv")[1], "8,1024");
  EXPECT_EQ(lines_of(dir + "/Train_Samples_elapsed_time_ms_forward.csv")[0], "step,elapsed_time_ms_forward");
}

TEST(MetricSinks, JsonLines) {
  const std::string path = temp_dir("jsonl_sink") + "/logs/metrics.jsonl";
  {
    zs::JsonLinesSink sink(path);
    sink.write(stats_of(1));
    zs::StepStats diverged = stats_of(2);
    diverged.loss = std::nan("");
    sink.write(diverged);
  }
  const auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 2u);
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["step"], 1);
  EXPECT_EQ(first["samples"], 8);
  EXPECT_DOUBLE_EQ(first["loss"].get<double>(), 4.0);
  EXPECT_DOUBLE_EQ(first["elapsed_time_ms_forward"].get<double>(), 12.5);
  EXPECT_TRUE(nlohmann::json::parse(lines[1])["loss"].is_null());   // JSON has no NaN
}

TEST(MetricSinks, UnwritableFolderIsAClearError) {
  try {
    zs::CsvSink sink("/proc/no_such_place/job");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("csv_monitor: cannot create /proc/no_such_place/job"), std::string::npos)
        << e.what();
  }
}

// The bytes protobuf itself writes for these messages (TensorBoard's event_pb2, SerializeToString).
TEST(MetricSinks, TensorBoardEventsAreProtobufsBytes) {
  auto hex = [](const std::string& bytes) {
    std::string out;
    for (unsigned char c : bytes) out += "0123456789abcdef"[c >> 4], out += "0123456789abcdef"[c & 15];
    return out;
  };
  EXPECT_EQ(hex(zs::encode_file_version_event(1700000000.25)), "0900001040fc54d9411a0d627261696e2e4576656e743a32");
  std::vector<zs::MetricEvent> metrics(2);
  metrics[0].tag = "Train/Samples/train_loss", metrics[0].value = 2.5;
  metrics[1].tag = "Train/Samples/lr", metrics[1].value = 0.0;
  EXPECT_EQ(hex(zs::encode_scalars_event(1700000000.25, 12, metrics)),
            "0900001040fc54d941100c2a3a0a1f0a18547261696e2f53616d706c65732f747261696e5f6c6f737315000020400a170a10547261"
            "696e2f53616d706c65732f6c721500000000");
  std::vector<zs::MetricEvent> negative(1);
  negative[0].tag = "t", negative[0].value = -1.0;
  EXPECT_EQ(hex(zs::encode_scalars_event(1.0, -3, negative)), "09000000000000f03f10fdffffffffffffffff012a0a0a080a017415000080bf");
}

TEST(MetricSinks, TensorBoardReadsOurEventFile) {
  const std::string dir = temp_dir("tensorboard_sink") + "/job";
  {
    zs::TensorBoardSink sink(dir);
    for (int step = 1; step <= 5; ++step) sink.write(stats_of(step));
  }
  const auto scalars = read_tensorboard(dir);
  ASSERT_TRUE(scalars.contains("Train/Samples/train_loss")) << scalars.dump();
  const auto& loss = scalars["Train/Samples/train_loss"];
  ASSERT_EQ(loss.size(), 5u) << scalars.dump();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(loss[i][0].get<int64_t>(), 8 * (i + 1));
    EXPECT_NEAR(loss[i][1].get<double>(), 4.0 / (i + 1), 1e-6);
  }
  EXPECT_EQ(scalars["Train/Samples/lr"].size(), 5u);
  EXPECT_NEAR(scalars["Train/Samples/loss_scale"][0][1].get<double>(), 1024, 0);
}

// train_gpt on 2 CPU ranks with tensorboard and csv_monitor in its DeepSpeed config and a JSON-lines log.
TEST(MetricSinks, TrainGptWritesEverySink) {
  const std::string dir = temp_dir("train_sinks");
  write_text(dir + "/ds.json", R"({
    "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto", "steps_per_print": 3,
    "zero_optimization": {"stage": 2},
    "tensorboard": {"enabled": true, "output_path": ")" + dir + R"(/tb", "job_name": "tiny"},
    "csv_monitor": {"enabled": true, "output_path": ")" + dir + R"(/csv", "job_name": "tiny"}
  })");
  const int steps = 6;
  const RunResult r = run_ranks(
      2,
      bin("train_gpt") + " --device=cpu --n_layer=1 --n_head=2 --n_embd=16 --block_size=16 --batch_size=2 "
                         "--eval_interval=0 --sample_tokens=0 --warmup_iters=2 --lr_decay_iters=6 --max_iters=" +
          std::to_string(steps) + " --deepspeed_config=" + dir + "/ds.json --log_jsonl=" + dir + "/metrics.jsonl",
      120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("metrics to tensorboard: " + dir + "/tb/tiny/events.out.tfevents."), std::string::npos)
      << r.output;

  // TensorBoard: one loss point per step, at the samples trained so far (batch 2 x 2 ranks).
  const auto scalars = read_tensorboard(dir + "/tb/tiny");
  ASSERT_TRUE(scalars.contains("Train/Samples/train_loss")) << scalars.dump();
  const auto& loss = scalars["Train/Samples/train_loss"];
  ASSERT_EQ(int(loss.size()), steps) << scalars.dump();
  for (int i = 0; i < steps; ++i) EXPECT_EQ(loss[i][0].get<int64_t>(), 4 * (i + 1));
  EXPECT_EQ(int(scalars["Train/Samples/lr"].size()), steps);
  EXPECT_FALSE(scalars.contains("Train/Samples/loss_scale"));   // fp32: no loss scaling

  // CSV: a header and one row per step; the values are TensorBoard's (as floats).
  const auto csv = lines_of(dir + "/csv/tiny/Train_Samples_train_loss.csv");
  ASSERT_EQ(int(csv.size()), steps + 1);
  EXPECT_EQ(csv[0], "step,train_loss");
  for (int i = 0; i < steps; ++i) {
    const std::string& row = csv[i + 1];
    const auto comma = row.find(',');
    ASSERT_NE(comma, std::string::npos) << row;
    EXPECT_EQ(std::stoll(row.substr(0, comma)), 4 * (i + 1));
    const double value = std::stod(row.substr(comma + 1));
    EXPECT_GT(value, 1.0);
    EXPECT_NEAR(value, loss[i][1].get<double>(), 1e-5 * value);
  }

  // JSON lines: one object per step with the loss and the rates.
  const auto jsonl = lines_of(dir + "/metrics.jsonl");
  ASSERT_EQ(int(jsonl.size()), steps);
  for (int i = 0; i < steps; ++i) {
    const auto j = nlohmann::json::parse(jsonl[i]);
    EXPECT_EQ(j["step"], i + 1);
    EXPECT_GT(j["tokens_per_second_per_device"].get<double>(), 0.0);
    EXPECT_NEAR(j["loss"].get<double>(), loss[i][1].get<double>(), 1e-5 * j["loss"].get<double>());
  }
}

TEST(MetricSinks, WandbIsRefusedWithAWayOut) {
  const std::string dir = temp_dir("train_wandb");
  write_text(dir + "/ds.json", R"({"train_micro_batch_size_per_gpu": "auto", "wandb": {"enabled": true}})");
  const RunResult r = run_command(bin("train_gpt") + " --device=cpu --n_layer=1 --n_head=2 --n_embd=16 --block_size=16 "
                                                     "--max_iters=1 --deepspeed_config=" + dir + "/ds.json", 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("wandb sync --sync-tensorboard"), std::string::npos) << r.output;
}

// A folder rank 0 cannot create stops every rank at start with rank 0's message (no rank is left
// waiting in a collective).
TEST(MetricSinks, UnwritablePathStopsEveryRank) {
  const std::string dir = temp_dir("train_bad_path");
  write_text(dir + "/ds.json",
             R"({"train_micro_batch_size_per_gpu": "auto", "csv_monitor": {"enabled": true, "output_path": "/proc/nope"}})");
  const RunResult r = run_ranks(2,
                                bin("train_gpt") + " --device=cpu --n_layer=1 --n_head=2 --n_embd=16 --block_size=16 "
                                                   "--max_iters=2 --eval_interval=0 --deepspeed_config=" + dir + "/ds.json",
                                60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.seconds, time_limit(30));
  EXPECT_NE(r.output.find("train_gpt: error: csv_monitor: cannot create /proc/nope/DeepSpeedJobName"), std::string::npos)
      << r.output;
}

}  // namespace test_metric_sinks
