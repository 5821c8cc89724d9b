// Optimizer offload to NVMe ("offload_optimizer": {"device": "nvme", "nvme_path": ...}) through
// real ranks (zsrun + MPI), with directories under /tmp as nvme_path: stages 1-3, fp32 and bf16,
// world sizes 1 and 2 train as the run with CPU offload (bit for bit: the same kernels on the same
// elements) and as the run without offload; slots cut into 48-element pieces, so the ring of piece
// buffers wraps many times; every combination of pipeline_read / pipeline_write and ring size;
// both I/O engines; exact resume from checkpoints, also across offload kinds, world sizes and
// stages; config errors (missing or unusable nvme_path, stage 0, fast_init, a full disk).
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/equivalence.hpp"
#include "support/offload_runs.hpp"
#include "test_ckpt_support.hpp"

namespace test_offload_nvme {

using namespace zs::testing;

namespace {


// zero_optimization members for NVMe offload into `dir`.
std::string nvme(const std::string& dir, const std::string& extra = R"(, "pipeline_read": true, "pipeline_write": true)") {
  return R"(, "offload_optimizer": {"device": "nvme", "nvme_path": ")" + dir + "\"" + extra + "}";
}

const char* kCpuOffload = R"(, "offload_optimizer": {"device": "cpu"})";


class NvmeOffload : public ::testing::TestWithParam<std::tuple<int, std::string, int>> {};

TEST_P(NvmeOffload, MatchesCpuOffloadAndTheRunWithoutOffload) {
  RunSetup s;
  std::tie(s.stage, s.dtype, s.world) = GetParam();
  s.accum = 2;
  const nlohmann::json plain = train(s);
  s.zero_extra = kCpuOffload;
  const nlohmann::json cpu = train(s);
  const std::string dir = temp_dir("nvme_path");
  nlohmann::json offloaded;
  {
    ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "48");  // many pieces per slot: the ring of 3 wraps
    s.zero_extra = nvme(dir, R"(, "buffer_count": 3, "pipeline_read": true, "pipeline_write": true)");
    offloaded = train(s);
  }
  ASSERT_FALSE(plain.is_null());
  ASSERT_FALSE(cpu.is_null());
  ASSERT_FALSE(offloaded.is_null());
  const auto [cpu_loss, cpu_weights] = difference(offloaded, cpu);
  const auto [loss, weights] = difference(offloaded, plain);
  std::printf("[nvme] stage %d %s world %d: vs cpu offload loss %.2e weights %.2e | vs no offload loss %.2e weights %.2e\n",
              s.stage, s.dtype.c_str(), s.world, cpu_loss, cpu_weights, loss, weights);
  EXPECT_EQ(offloaded["loss"], cpu["loss"]);
  EXPECT_EQ(offloaded["params"], cpu["params"]);
  // Against the device optimizer only the CPU kernel's rounding of each slot's last elements differs.
  EXPECT_LT(loss, 1e-5);
  EXPECT_LT(weights, 1e-5);
  EXPECT_LT(offloaded["loss"].back().get<double>(), offloaded["loss"].front().get<double>());
  // The store removed its files and its directory when the run ended.
  EXPECT_EQ(entries(dir), 0);
}

std::string name_of(const ::testing::TestParamInfo<NvmeOffload::ParamType>& info) {
  const auto& [stage, dtype, world] = info.param;
  return "stage" + std::to_string(stage) + "_" + dtype + "_world" + std::to_string(world);
}

INSTANTIATE_TEST_SUITE_P(Matrix, NvmeOffload,
                         ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Values("fp32", "bf16"),
                                            ::testing::Values(1, 2)),
                         name_of);

// offload_optimizer.overlap_step with the state on NVMe: at stages 1-2 the units' slots are read,
// updated and written back on the store's thread while the next forward runs, each unit waiting
// for its own before it runs (at stage 3 the matrix above overlaps always). Same bits as the step
// that finishes first, with small pieces through a ring of 2 and activation checkpointing.
TEST(NvmeOverlap, UpdatingUnitsDuringTheNextForwardChangesNothing) {
  ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "48");
  const std::string dir = temp_dir("nvme_overlap");
  for (int stage : {1, 2}) {
    RunSetup s;
    s.stage = stage;
    s.dtype = "bf16";
    s.accum = 2;
    s.world = 2;
    s.zero_extra = nvme(dir);
    const nlohmann::json plain = train(s);
    s.zero_extra = nvme(dir, R"(, "overlap_step": true, "buffer_count": 2, "pipeline_read": true, "pipeline_write": true)");
    s.extra = R"(, "activation_checkpointing": {})";
    const nlohmann::json overlapped = train(s);
    ASSERT_FALSE(plain.is_null());
    ASSERT_FALSE(overlapped.is_null());
    EXPECT_EQ(overlapped["loss"], plain["loss"]) << "stage " << stage;
    EXPECT_EQ(overlapped["params"], plain["params"]) << "stage " << stage;
  }
  EXPECT_EQ(entries(dir), 0);
}

// Synchronous and pipelined reads and writes, rings of 1, 2 and 5 buffers, both I/O engines: the
// same bits every time (only the order of I/O changes, never the arithmetic). Three steps: each
// step passes every piece through the ring (hundreds of pieces of 32), and steps 2 and 3 read what
// the pipelined writes of the step before left; more steps repeat that (13 runs, 8 steps each took
// a minute of the CI's test time).
TEST(NvmePipeline, EveryScheduleAndEngineGivesTheSameBits) {
  constexpr int kPipelineSteps = 3;
  ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "32");
  RunSetup s;
  s.stage = 3;
  s.dtype = "bf16";
  s.world = 2;
  const std::string dir = temp_dir("nvme_pipeline");
  s.zero_extra = nvme(dir, R"(, "pipeline_read": false, "pipeline_write": false)");
  const nlohmann::json first = train(s, "", kPipelineSteps);
  ASSERT_FALSE(first.is_null());
  const std::vector<std::string> variants = {
      R"(, "pipeline_read": true)",
      R"(, "pipeline_write": true)",
      R"(, "pipeline_read": true, "pipeline_write": true)",
      R"(, "buffer_count": 1, "pipeline_read": true, "pipeline_write": true)",
      R"(, "buffer_count": 2, "pipeline_read": true, "pipeline_write": true)",
      R"(, "buffer_count": 5, "pipeline": true)",
  };
  for (const char* engine : {"threads", "uring"}) {
    ScopedEnv io("ZS_IO_ENGINE", engine);
    for (const std::string& v : variants) {
      s.zero_extra = nvme(dir, v);
      const nlohmann::json other = train(s, "", kPipelineSteps);
      ASSERT_FALSE(other.is_null()) << engine << v;
      EXPECT_EQ(other["loss"], first["loss"]) << engine << v;
      EXPECT_EQ(other["params"], first["params"]) << engine << v;
    }
  }
}

// SGD with momentum and Nesterov: its momentum buffer lives in the files too.
TEST(NvmeSgd, MatchesTheRunWithoutOffload) {
  RunSetup s;
  s.stage = 2;
  s.world = 2;
  s.accum = 2;
  s.optimizer = R"({"type": "SGD", "params": {"lr": 0.05, "momentum": 0.9, "nesterov": true, "weight_decay": 0.01}})";
  const std::string dir = temp_dir("nvme_sgd");
  const TinyRun plain = run_tiny(s, dir, "plain", "--steps 8");
  ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "64");
  s.zero_extra = nvme(dir);
  const TinyRun offloaded = run_tiny(s, dir, "offloaded", "--steps 8");
  ASSERT_EQ(plain.run.exit_code, 0) << plain.run.output;
  ASSERT_EQ(offloaded.run.exit_code, 0) << offloaded.run.output;
  const auto [loss, weights] = difference(offloaded.result, plain.result);
  std::printf("[nvme] SGD stage 2: loss %.2e weights %.2e\n", loss, weights);
  EXPECT_LT(loss, 1e-6);
  EXPECT_LT(weights, 1e-6);
}

// 8 uninterrupted steps == 4 steps + save, then a new process: load + 4 steps, bit for bit; the
// checkpoint is read from and written to the offload files a piece at a time. It also loads into
// runs with CPU offload and without offload, and theirs into an NVMe run. Four steps on each side
// of the save: a state that came back wrong (moments, step count, masters) shows in the first
// step's bits already (40 and 20 steps made these tests two minutes of the CI's test time).
void expect_exact_nvme_resume(int stage, const std::string& dtype, int world) {
  constexpr int kTotal = 8, kSplit = 4;
  ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "48");
  const std::string dir = temp_dir("nvme_resume");
  const std::string nvme_dir = dir + "/nvme";
  mkdir(nvme_dir.c_str(), 0755);
  RunSetup setup = setup_of(world, stage, dtype);
  setup.zero_extra = nvme(nvme_dir);
  const TinyRun second = expect_bitwise_resume(setup, dir, kTotal, kSplit);
  ASSERT_FALSE(second.result.is_null());

  // The NVMe checkpoint continued with CPU offload: the same kernels, so the same bits.
  RunSetup cpu_setup = setup_of(world, stage, dtype);
  cpu_setup.zero_extra = kCpuOffload;
  const TinyRun on_cpu = run_tiny(cpu_setup, dir, "on_cpu", "--steps " + std::to_string(kTotal) + " --load_dir " + dir + "/ck");
  ASSERT_EQ(on_cpu.run.exit_code, 0) << on_cpu.run.output;
  EXPECT_EQ(on_cpu.result["params"], second.result["params"]);
  // Continued without offload, and a checkpoint saved without offload continued on NVMe.
  RunSetup plain_setup = setup_of(world, stage, dtype);
  const TinyRun on_device = run_tiny(plain_setup, dir, "on_device", "--steps " + std::to_string(kTotal) + " --load_dir " + dir + "/ck");
  const TinyRun plain_first = run_tiny(plain_setup, dir, "plain_first",
                                       "--steps " + std::to_string(kSplit) + " --save_dir " + dir + "/ck_plain --save_at " +
                                           std::to_string(kSplit));
  const TinyRun plain_to_nvme = run_tiny(setup, dir, "plain_to_nvme",
                                         "--steps " + std::to_string(kTotal) + " --load_dir " + dir + "/ck_plain");
  ASSERT_EQ(on_device.run.exit_code, 0) << on_device.run.output;
  ASSERT_EQ(plain_first.run.exit_code, 0) << plain_first.run.output;
  ASSERT_EQ(plain_to_nvme.run.exit_code, 0) << plain_to_nvme.run.output;
  const auto [loss, weights] = difference(on_device.result, second.result);
  const auto [loss2, weights2] = difference(plain_to_nvme.result, second.result);
  std::printf("[nvme] stage %d %s world %d: nvme checkpoint continued without offload: loss %.2e weights %.2e | "
              "device checkpoint continued on nvme: loss %.2e weights %.2e\n",
              stage, dtype.c_str(), world, loss, weights, loss2, weights2);
  EXPECT_LT(loss, 1e-5);
  EXPECT_LT(weights, 1e-5);
  EXPECT_LT(loss2, 1e-5);
  EXPECT_LT(weights2, 1e-5);
  EXPECT_EQ(entries(nvme_dir), 0);
}

}  // namespace

TEST(NvmeCheckpoint, ExactResumeStage1Fp32World2) { expect_exact_nvme_resume(1, "fp32", 2); }
TEST(NvmeCheckpoint, ExactResumeStage2Bf16World1) { expect_exact_nvme_resume(2, "bf16", 1); }
TEST(NvmeCheckpoint, ExactResumeStage3Bf16World2) { expect_exact_nvme_resume(3, "bf16", 2); }

// A checkpoint saved by 2 ranks at stage 3 with NVMe offload loads into 1 rank at stage 2 with
// NVMe offload (other slices, other pieces) exactly as into 1 rank without offload.
TEST(NvmeCheckpoint, LoadsAtAnotherWorldSizeAndStage) {
  ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "80");
  const std::string dir = temp_dir("nvme_reshard");
  RunSetup saver = setup_of(2, 3, "fp32");
  saver.zero_extra = nvme(dir);
  const TinyRun first = run_tiny(saver, dir, "first", "--steps 6 --save_dir " + dir + "/ck --save_at 6");
  ASSERT_EQ(first.run.exit_code, 0) << first.run.output;
  RunSetup loader = setup_of(1, 2, "fp32");
  const TinyRun plain = run_tiny(loader, dir, "plain", "--steps 12 --load_dir " + dir + "/ck");
  loader.zero_extra = nvme(dir);
  const TinyRun offloaded = run_tiny(loader, dir, "offloaded", "--steps 12 --load_dir " + dir + "/ck");
  ASSERT_EQ(plain.run.exit_code, 0) << plain.run.output;
  ASSERT_EQ(offloaded.run.exit_code, 0) << offloaded.run.output;
  EXPECT_EQ(offloaded.result["global_steps_after_load"], 6);
  const auto [loss, weights] = difference(offloaded.result, plain.result);
  std::printf("[nvme] 2 ranks stage 3 -> 1 rank stage 2: vs no offload loss %.2e weights %.2e\n", loss, weights);
  EXPECT_LT(loss, 1e-6);
  EXPECT_LT(weights, 1e-6);
}

namespace {

// A train_gpt run with `zero` as its zero_optimization section and `env` (NAME=value) set; its output.
}  // namespace

// The engine's summary line says where the state went and which I/O engine moves it.
TEST(NvmeSummary, EngineNamesTheDirectoryAndTheIoEngine) {
  const std::string dir = temp_dir("nvme_summary");
  for (const std::string engine : {"threads", "uring"}) {
    const RunResult r = run_gpt(R"({"stage": 2, "offload_optimizer": {"device": "nvme", "nvme_path": ")" + dir + "\"}}",
                                "ZS_IO_ENGINE=" + engine);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("[zeroshard] optimizer state offloaded to nvme (" + dir + "/zeroshard_rank0_pid"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find(std::string(", ") + (engine == "uring" ? "io_uring" : "threads") + ", "), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("pipeline read off, write off"), std::string::npos) << r.output;
  }
  EXPECT_EQ(entries(dir), 0);
}

TEST(NvmeConfig, ClearErrors) {
  const std::string dir = temp_dir("nvme_errors");
  write_text(dir + "/a_file", "x");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"stage": 2, "offload_optimizer": {"device": "nvme"}})",
       "zero_optimization.offload_optimizer.nvme_path is required when zero_optimization.offload_optimizer.device is \"nvme\""},
      {R"({"stage": 0, "offload_optimizer": {"device": "nvme", "nvme_path": ")" + dir + "\"}}",
       "zero_optimization.offload_optimizer needs zero_optimization.stage 1, 2 or 3 (the stage is 0)"},
      {R"({"stage": 1, "offload_optimizer": {"device": "nvme", "nvme_path": ")" + dir + "/missing\"}}",
       "zero_optimization.offload_optimizer (device \"nvme\"): zeroshard io: nvme_path " + dir +
           "/missing cannot be used: No such file or directory"},
      {R"({"stage": 1, "offload_optimizer": {"device": "nvme", "nvme_path": ")" + dir + "/a_file\"}}",
       "nvme_path " + dir + "/a_file is not a directory"},
      {R"({"stage": 1, "offload_optimizer": {"device": "nvme", "nvme_path": ")" + dir + "\", \"fast_init\": true}}",
       "zero_optimization.offload_optimizer.fast_init (the initial optimizer state is written to nvme_path at startup "
       "either way) is not available in this build yet"},
  };
  for (const auto& [zero, message] : cases) {
    const RunResult r = run_gpt(zero);
    EXPECT_NE(r.exit_code, 0) << zero;
    EXPECT_NE(r.output.find(message), std::string::npos) << zero << "\n" << r.output;
  }
}

// nvme_path on a 64 KiB tmpfs: too small for the records of a 0.1M-parameter model (1.2 MB),
// refused at startup with the numbers
// (needs the right to mount; skipped without it).
TEST(NvmeConfig, NotEnoughFreeSpace) {
  const std::string mnt = temp_dir("nvme_full");
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0) GTEST_SKIP() << "cannot mount a small tmpfs here";
  const RunResult r = run_gpt(R"({"stage": 1, "offload_optimizer": {"device": "nvme", "nvme_path": ")" + mnt + "\"}}", "",
                              "--n_layer 2 --n_embd 64");
  ::umount(mnt.c_str());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("zero_optimization.offload_optimizer (device \"nvme\"): zeroshard io: " + mnt + " has "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("but rank 0's offload files need"), std::string::npos) << r.output;
}

}  // namespace test_offload_nvme
