// Stage-3 parameter offload to NVMe ("offload_param": {"device": "nvme", "nvme_path": ...}) through
// real ranks (zsrun + MPI), with directories under /tmp as nvme_path: fp32 and bf16, world sizes 1
// and 2, with the optimizer state on NVMe or in CPU memory, train bit for bit as the same run with
// the shards in host memory and as the run whose parameters stay on the device (moving a shard
// through a file changes no arithmetic); pools of 1 to 3 buffers (the pool wraps many times per
// step, prefetches skipped when no buffer is spare); activation checkpointing; exact resume; the
// config errors; the files and directories are gone when a run ends.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/equivalence.hpp"
#include "support/offload_runs.hpp"
#include "zs/engine/memory_estimate.hpp"
#include "test_ckpt_support.hpp"

namespace test_offload_param_nvme {

using namespace zs::testing;

namespace {



std::string optimizer_offload(const std::string& device, const std::string& dir) {
  if (device == "cpu") return R"(, "offload_optimizer": {"device": "cpu"})";
  return R"(, "offload_optimizer": {"device": "nvme", "nvme_path": ")" + dir + R"(", "pipeline_read": true, "pipeline_write": true})";
}

std::string param_nvme(const std::string& dir, int buffer_count) {
  return R"(, "offload_param": {"device": "nvme", "nvme_path": ")" + dir + R"(", "buffer_count": )" +
         std::to_string(buffer_count) + "}";
}

// Units released after each forward and prefetched as far as the pool allows: every gather of
// every step reads its shard from the file (with RunSetup::prefetch_bucket kPrefetchAll).
const char* kEveryGatherReads = R"(, "stage3_max_reuse_distance": 0)";
constexpr int64_t kPrefetchAll = 1000000;

class ParamNvme : public ::testing::TestWithParam<std::tuple<std::string, int, std::string>> {};

TEST_P(ParamNvme, MatchesShardsInHostMemoryAndOnTheDevice) {
  RunSetup s;
  std::string optimizer_device;
  std::tie(s.dtype, s.world, optimizer_device) = GetParam();
  s.stage = 3;
  s.accum = 2;
  s.prefetch_bucket = kPrefetchAll;
  const std::string dir = temp_dir("param_nvme");
  const std::string opt = optimizer_offload(optimizer_device, dir) + kEveryGatherReads;
  s.zero_extra = opt;
  const nlohmann::json on_device = train(s);
  s.zero_extra = opt + R"(, "offload_param": {"device": "cpu"})";
  const nlohmann::json in_host_memory = train(s);
  s.zero_extra = opt + param_nvme(dir, 2);  // one buffer being read ahead, one for the gather that cannot wait
  const nlohmann::json in_files = train(s);
  RunSetup plain_setup = s;
  plain_setup.zero_extra = "";
  plain_setup.prefetch_bucket = RunSetup().prefetch_bucket;
  const nlohmann::json plain = train(plain_setup);
  ASSERT_FALSE(on_device.is_null());
  ASSERT_FALSE(in_host_memory.is_null());
  ASSERT_FALSE(in_files.is_null());
  ASSERT_FALSE(plain.is_null());
  const auto [loss, weights] = difference(in_files, on_device);
  const auto [plain_loss, plain_weights] = difference(in_files, plain);
  std::printf("[param nvme] %s world %d, optimizer %s: vs parameters on the device loss %.2e weights %.2e | vs no "
              "offload at all loss %.2e weights %.2e | final loss %.9g\n",
              s.dtype.c_str(), s.world, optimizer_device.c_str(), loss, weights, plain_loss, plain_weights,
              in_files["loss"].back().get<double>());
  EXPECT_EQ(in_files["loss"], on_device["loss"]);
  EXPECT_EQ(in_files["params"], on_device["params"]);
  EXPECT_EQ(in_files["loss"], in_host_memory["loss"]);
  EXPECT_EQ(in_files["params"], in_host_memory["params"]);
  // Against the device optimizer only the CPU kernel's rounding of each slot's last elements differs.
  EXPECT_LT(plain_loss, 1e-5);
  EXPECT_LT(plain_weights, 1e-5);
  EXPECT_LT(in_files["loss"].back().get<double>(), in_files["loss"].front().get<double>());
  // Both stores removed their files and directories when the run ended.
  EXPECT_EQ(entries(dir), 0);
}

std::string name_of(const ::testing::TestParamInfo<ParamNvme::ParamType>& info) {
  const auto& [dtype, world, optimizer] = info.param;
  return dtype + "_world" + std::to_string(world) + "_optimizer_" + optimizer;
}

INSTANTIATE_TEST_SUITE_P(Matrix, ParamNvme,
                         ::testing::Combine(::testing::Values("fp32", "bf16"), ::testing::Values(1, 2),
                                            ::testing::Values("nvme", "cpu")),
                         name_of);

// Pools of 1 (no prefetch: every gather waits for its read), 2 and 3 buffers, with activation
// checkpointing (each unit gathered a third time for the recomputation) and with the optimizer's
// slots cut into pieces of 48 elements (a shard is written piece by piece): the same bits every time.
// Three steps: each gathers every unit through the pool, and steps 2 and 3 read the shards the
// step before wrote back; more steps repeat that.
TEST(ParamNvmePool, EveryPoolSizeAndCheckpointingGiveTheSameBits) {
  ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "48");
  RunSetup s;
  s.stage = 3;
  s.dtype = "bf16";
  s.world = 2;
  s.prefetch_bucket = kPrefetchAll;
  const std::string dir = temp_dir("param_nvme_pool"), nvme_dir = dir + "/nvme";
  mkdir(nvme_dir.c_str(), 0755);
  const std::string opt = optimizer_offload("nvme", nvme_dir) + kEveryGatherReads;
  for (const std::string checkpointing : {"", R"(, "activation_checkpointing": {})"}) {
    s.extra = checkpointing;
    s.zero_extra = opt + R"(, "offload_param": {"device": "cpu"})";
    const TinyRun reference = run_tiny(s, dir, "reference", "--steps 3");
    ASSERT_EQ(reference.run.exit_code, 0) << reference.run.output;
    for (int buffers : {1, 2, 3}) {
      s.zero_extra = opt + param_nvme(nvme_dir, buffers);
      const std::string tag = std::to_string(buffers) + " buffer(s)" + (checkpointing.empty() ? "" : ", checkpointing");
      ScopedEnv trace("ZS_TRACE_UNITS", "1");
      const TinyRun run = run_tiny(s, dir, "pool", "--steps 3");
      ASSERT_EQ(run.run.exit_code, 0) << tag << "\n" << run.run.output;
      EXPECT_EQ(run.result["loss"], reference.result["loss"]) << tag;
      EXPECT_EQ(run.result["params"], reference.result["params"]) << tag;
      // Every gather read its shard; reads ahead only with a spare buffer.
      EXPECT_NE(run.run.output.find("start read"), std::string::npos) << tag;
      const bool prefetched = run.run.output.find("start read (prefetch)") != std::string::npos;
      EXPECT_EQ(prefetched, buffers > 1) << tag;
    }
  }
  EXPECT_EQ(entries(nvme_dir), 0);
}

// 8 uninterrupted steps == 4 steps + save, then a new process: load + 4 steps, bit for bit; after
// the load the 16-bit values come from the masters and go to the shard files. The checkpoint also
// continues with the shards in host memory, with the same bits. Four steps on each side of the
// save: a state that came back wrong shows in the first step's bits already.
void expect_exact_resume(const std::string& optimizer_device, const std::string& dtype, int world) {
  constexpr int kTotal = 8, kSplit = 4;
  const std::string dir = temp_dir("param_nvme_resume");
  const std::string nvme_dir = dir + "/nvme";
  mkdir(nvme_dir.c_str(), 0755);
  RunSetup setup = setup_of(world, 3, dtype);
  setup.prefetch_bucket = kPrefetchAll;
  setup.zero_extra = optimizer_offload(optimizer_device, nvme_dir) + param_nvme(nvme_dir, 2) + kEveryGatherReads;
  const TinyRun second = expect_bitwise_resume(setup, dir, kTotal, kSplit);
  ASSERT_FALSE(second.result.is_null());
  RunSetup host = setup_of(world, 3, dtype);
  host.prefetch_bucket = kPrefetchAll;
  host.zero_extra = optimizer_offload(optimizer_device, nvme_dir) + R"(, "offload_param": {"device": "cpu"})" + kEveryGatherReads;
  const TinyRun on_host = run_tiny(host, dir, "on_host", "--steps " + std::to_string(kTotal) + " --load_dir " + dir + "/ck");
  ASSERT_EQ(on_host.run.exit_code, 0) << on_host.run.output;
  EXPECT_EQ(on_host.result["loss"], second.result["loss"]);
  EXPECT_EQ(on_host.result["params"], second.result["params"]);
  std::printf("[param nvme] resume %s world %d, optimizer %s: final loss %.9g, bit for bit\n", dtype.c_str(), world,
              optimizer_device.c_str(), second.result["loss"].back().get<double>());
  EXPECT_EQ(entries(nvme_dir), 0);
}

}  // namespace

TEST(ParamNvmeCheckpoint, ExactResumeBf16World2OptimizerNvme) { expect_exact_resume("nvme", "bf16", 2); }
TEST(ParamNvmeCheckpoint, ExactResumeFp32World1OptimizerCpu) { expect_exact_resume("cpu", "fp32", 1); }

namespace {

// The blocks as units (2 layers, width 32).
RunResult run_gpt_units(const std::string& zero) { return run_gpt(zero, "", "--n_layer 2 --n_embd 32"); }

std::string stage3(const std::string& dir, const std::string& param_extra) {
  // Persistence threshold 100: the blocks become units.
  return R"({"stage": 3, "stage3_param_persistence_threshold": 100, "offload_optimizer": {"device": "cpu"},
             "offload_param": {"device": "nvme", "nvme_path": ")" + dir +
         "\"" + param_extra + "}}";
}

}  // namespace

// The engine's summary line names the directory, the I/O engine and the pool.
TEST(ParamNvmeSummary, EngineNamesTheDirectoryAndThePool) {
  const std::string dir = temp_dir("param_nvme_summary");
  const RunResult r = run_gpt_units(stage3(dir, R"(, "buffer_count": 3)"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[zeroshard] parameter shards offloaded to nvme (" + dir + "/zeroshard_param/zeroshard_rank0_pid"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("| 3 buffer(s) of "), std::string::npos) << r.output;
  EXPECT_EQ(entries(dir), 0);
}

TEST(ParamNvmeConfig, ClearErrors) {
  const std::string dir = temp_dir("param_nvme_errors");
  write_text(dir + "/a_file", "x");
  const std::vector<std::pair<std::string, std::string>> cases = {
      // Each block of the 2-layer, 32-wide GPT holds 12288 matrix elements: its own unit.
      {stage3(dir, R"(, "buffer_size": 1000)"),
       "zero_optimization.offload_param.buffer_size 1000 is too small for unit \"transformer.h.0\": its shard holds "
       "12288 elements on each of 1 rank(s); set buffer_size to at least 12288"},
      {stage3(dir, R"(, "max_in_cpu": 1000)"),
       "zero_optimization.offload_param.max_in_cpu (keeping some parameter shards in host memory; with device \"nvme\" "
       "every shard lives in nvme_path and host memory holds only buffer_count buffers) is not available in this build yet"},
      {R"({"stage": 3, "offload_optimizer": {"device": "cpu"}, "offload_param": {"device": "nvme"}})",
       "zero_optimization.offload_param.nvme_path is required when zero_optimization.offload_param.device is \"nvme\""},
      {R"({"stage": 3, "offload_param": {"device": "nvme", "nvme_path": ")" + dir + "\"}}",
       "zero_optimization.offload_param needs zero_optimization.offload_optimizer too"},
      {R"({"stage": 2, "offload_optimizer": {"device": "cpu"}, "offload_param": {"device": "nvme", "nvme_path": ")" + dir + "\"}}",
       "zero_optimization.offload_param needs zero_optimization.stage 3 (the stage is 2)"},
      {stage3(dir + "/missing", ""),
       "zero_optimization.offload_param (device \"nvme\"): zeroshard io: nvme_path " + dir +
           "/missing cannot be used: No such file or directory"},
      {stage3(dir + "/a_file", ""), "nvme_path " + dir + "/a_file is not a directory"},
  };
  for (const auto& [zero, message] : cases) {
    const RunResult r = run_gpt_units(zero);
    EXPECT_NE(r.exit_code, 0) << zero;
    EXPECT_NE(r.output.find(message), std::string::npos) << zero << "\n" << r.output;
  }
  EXPECT_EQ(entries(dir), 1);  // only a_file: a refused run leaves nothing behind
}

// The memory estimate: with the shards in files, host memory keeps only the pool.
TEST(ParamNvmeEstimate, ShardsLeaveTheHost) {
  zs::ModelSizes m;
  m.params = 1'557'000'000;
  m.unit_params = 1'475'000'000;
  m.largest_unit = 30'700'000;
  m.world_size = 2;
  zs::ZeroConfig zero;
  zero.offload_param.buffer_count = 5;
  zero.offload_param.buffer_size = 100'000'000;
  const zs::MemoryEstimate host = zs::estimate_memory(m, {3, true, true, true, false}, zero);
  const zs::MemoryEstimate files = zs::estimate_memory(m, {3, true, true, true, true}, zero);
  EXPECT_DOUBLE_EQ(files.params, host.params);  // the device side is the same
  EXPECT_DOUBLE_EQ(host.host - files.host, 2.0 * 1'475'000'000 / 2 - 5 * 2.0 * 15'350'000);
  EXPECT_EQ((zs::OffloadChoice{3, true, true, true, true}.name()), "stage 3 + offload_optimizer(nvme) + offload_param(nvme)");
}

}  // namespace test_offload_param_nvme
