// GPU equivalence (GPU build only): stages 0-3 on 2 GPUs over NCCL give the same losses and
// weights as one GPU at stage 0, in fp32 and bf16, with and without accumulation.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include <torch/cuda.h>

#include "support/equivalence.hpp"
#include "support/offload_runs.hpp"

using namespace zs::testing;

namespace {

class GpuEquivalence : public ::testing::TestWithParam<std::tuple<int, std::string, int>> {};

TEST_P(GpuEquivalence, TwoGpusMatchOne) {
  if (torch::cuda::device_count() < 2) GTEST_SKIP() << "needs 2 GPUs, this machine has " << torch::cuda::device_count();
  RunSetup s;
  std::tie(s.stage, s.dtype, s.accum) = GetParam();
  s.world = 2;
  s.device = "cuda";
  const nlohmann::json& ref = reference(s.dtype, "cuda");
  ASSERT_FALSE(ref.is_null());
  const nlohmann::json got = train(s);
  ASSERT_FALSE(got.is_null());
  const auto [loss_diff, weight_diff] = difference(got, ref);
  std::printf("[gpu equivalence] stage %d %s accum %d world 2: max loss rel diff %.2e, weight rel diff %.2e\n", s.stage,
              s.dtype.c_str(), s.accum, loss_diff, weight_diff);
  const double tolerance = s.dtype == "fp32" ? 1e-5 : 3e-2;
  EXPECT_LT(loss_diff, tolerance);
  EXPECT_LT(weight_diff, tolerance);
}

INSTANTIATE_TEST_SUITE_P(Matrix, GpuEquivalence,
                         ::testing::Combine(::testing::Values(0, 1, 2, 3), ::testing::Values("fp32", "bf16"),
                                            ::testing::Values(1, 4)));

}  // namespace

namespace {

// Optimizer offload (stages 1-3) and parameter offload (stage 3) on 2 GPUs: pinned host state,
// copy streams and the CPU step give the single-GPU reference's losses and weights.
class GpuOffloadEquivalence : public ::testing::TestWithParam<std::tuple<int, std::string, bool>> {};

TEST_P(GpuOffloadEquivalence, TwoGpusMatchOne) {
  if (torch::cuda::device_count() < 2) GTEST_SKIP() << "needs 2 GPUs, this machine has " << torch::cuda::device_count();
  RunSetup s;
  bool offload_param = false;
  std::tie(s.stage, s.dtype, offload_param) = GetParam();
  s.world = 2;
  s.device = "cuda";
  s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "pin_memory": true})";
  if (offload_param) s.zero_extra += R"(, "offload_param": {"device": "cpu", "pin_memory": true})";
  const nlohmann::json& ref = reference(s.dtype, "cuda");
  ASSERT_FALSE(ref.is_null());
  const nlohmann::json got = train(s);
  ASSERT_FALSE(got.is_null());
  const auto [loss_diff, weight_diff] = difference(got, ref);
  std::printf("[gpu equivalence] stage %d %s offload optimizer%s world 2: max loss rel diff %.2e, weight rel diff %.2e\n",
              s.stage, s.dtype.c_str(), offload_param ? " + parameters" : "", loss_diff, weight_diff);
  const double tolerance = s.dtype == "fp32" ? 1e-5 : 3e-2;
  EXPECT_LT(loss_diff, tolerance);
  EXPECT_LT(weight_diff, tolerance);
}

INSTANTIATE_TEST_SUITE_P(Offload, GpuOffloadEquivalence,
                         ::testing::Values(std::make_tuple(1, "fp32", false), std::make_tuple(2, "bf16", false),
                                           std::make_tuple(3, "fp32", false), std::make_tuple(3, "bf16", false),
                                           std::make_tuple(3, "fp32", true), std::make_tuple(3, "bf16", true)));

}  // namespace

namespace {

// offload_optimizer.super_offload on the GPU (one GPU, or two where there are): the units' CPU
// updates start in backward, ordered after each unit's reduced gradient by CUDA events on the
// copy stream, and give the same bits as the step after backward, with and without parameter
// offload.
TEST(GpuSuperOffload, StartingTheStepInBackwardChangesNothing) {
  if (torch::cuda::device_count() < 1) GTEST_SKIP() << "needs a GPU";
  for (const bool offload_param : {false, true}) {
    RunSetup s;
    s.stage = 3;
    s.dtype = "bf16";
    s.accum = 2;
    s.world = torch::cuda::device_count() >= 2 ? 2 : 1;
    s.device = "cuda";
    s.clipping = 0;
    const std::string params = offload_param ? R"(, "offload_param": {"device": "cpu", "pin_memory": true})" : "";
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "pin_memory": true})" + params;
    const nlohmann::json plain = train(s);
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "pin_memory": true, "super_offload": true})" + params;
    const nlohmann::json early = train(s);
    ASSERT_FALSE(plain.is_null());
    ASSERT_FALSE(early.is_null());
    std::printf("[gpu super_offload] world %d%s: steps began in backward: %s\n", s.world,
                offload_param ? " + parameters" : "", early["super_offload"].get<std::string>().empty() ? "yes" : "no");
    EXPECT_EQ(early["super_offload"], "");
    EXPECT_EQ(early["loss"], plain["loss"]);
    EXPECT_EQ(early["grad_norm"], plain["grad_norm"]);
    EXPECT_EQ(early["params"], plain["params"]);
  }
}

}  // namespace

namespace {

// offload_optimizer.ratio 0.5 on the GPU (one GPU, or two where there are): the first slots are
// updated by the fused CUDA step beside their parameters while the CPU updates the rest and copies
// them up. It trains as the whole offload and as no offload (within the two kernels' rounding), at
// stage 2 (with overlap_step: the device's share is updated beside the CPU's copies) and stage 3
// (with super_offload, and with offload_param: some units' shards in pinned host memory, the
// rest on the device).
TEST(GpuOffloadRatio, APartialOffloadTrainsAsTheWholeOneAndAsNone) {
  if (torch::cuda::device_count() < 1) GTEST_SKIP() << "needs a GPU";
  const std::string param = R"(, "offload_param": {"device": "cpu", "pin_memory": true})";
  for (const auto& [stage, options, clipping, extra] : std::vector<std::tuple<int, std::string, double, std::string>>{
           {2, R"(, "overlap_step": true)", 0.5, ""}, {3, "", 0.5, ""}, {3, R"(, "super_offload": true)", 0.0, ""},
           {3, "", 0.5, param}, {3, R"(, "super_offload": true)", 0.0, param}}) {
    RunSetup s;
    s.stage = stage;
    s.dtype = "bf16";
    s.accum = 2;
    s.world = torch::cuda::device_count() >= 2 ? 2 : 1;
    s.device = "cuda";
    s.clipping = clipping;
    const nlohmann::json plain = train(s);
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "pin_memory": true)" + options + "}" + extra;
    const nlohmann::json whole = train(s);
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "pin_memory": true, "ratio": 0.5)" + options + "}" + extra;
    const nlohmann::json half = train(s);
    ASSERT_FALSE(plain.is_null());
    ASSERT_FALSE(whole.is_null());
    ASSERT_FALSE(half.is_null());
    const auto [loss_whole, weights_whole] = difference(half, whole);
    const auto [loss_plain, weights_plain] = difference(half, plain);
    const std::string split = half["offload"].get<std::string>();
    std::printf("[gpu offload ratio] stage %d%s%s world %d: ratio 0.5 against ratio 1: loss %.2e weights %.2e | against no "
                "offload: loss %.2e weights %.2e\n  %s\n", stage, options.c_str(), extra.c_str(), s.world, loss_whole, weights_whole,
                loss_plain, weights_plain, split.c_str());
    // The CPU kernel and the CUDA one round the fp32 update differently in its last bit, so now and
    // then a bf16 weight lands an ulp apart (~4e-3 relative), and the runs drift by about that.
    EXPECT_LT(loss_whole, 1e-3);
    EXPECT_LT(weights_whole, 1e-2);
    EXPECT_LT(loss_plain, 1e-3);
    EXPECT_LT(weights_plain, 1e-2);
    EXPECT_NE(split.find("on the CPU, the rest on the device (AdamW)"), std::string::npos) << split;
    if (clipping == 0) EXPECT_EQ(half["super_offload"], "");
  }
}

// The optimizer state in files on the GPU machine (offload_optimizer device "nvme", a directory
// under /tmp): at stage 2 with the step finishing first and with overlap_step (each unit's slots
// updated on the store's thread while the next forward runs), and at stage 3 (always overlapped).
// The CPU update is the host store's kernel on the same elements, so each run matches the pinned
// CPU offload bit for bit; small pieces make the ring of buffers wrap within every slot.
TEST(GpuNvmeOffload, TrainsAsTheCpuOffloadBitForBit) {
  if (torch::cuda::device_count() < 1) GTEST_SKIP() << "needs a GPU";
  const std::string dir = temp_dir("gpu_nvme");
  for (const auto& [stage, options] : std::vector<std::pair<int, std::string>>{
           {2, ""}, {2, R"(, "overlap_step": true)"}, {3, ""}}) {
    RunSetup s;
    s.stage = stage;
    s.dtype = "bf16";
    s.accum = 2;
    s.world = torch::cuda::device_count() >= 2 ? 2 : 1;
    s.device = "cuda";
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "pin_memory": true)" + options + "}";
    const nlohmann::json cpu = train(s);
    nlohmann::json nvme;
    {
      ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "512");
      s.zero_extra = R"(, "offload_optimizer": {"device": "nvme", "nvme_path": ")" + dir +
                     R"(", "buffer_count": 3, "pipeline_read": true, "pipeline_write": true)" + options + "}";
      nvme = train(s);
    }
    ASSERT_FALSE(cpu.is_null());
    ASSERT_FALSE(nvme.is_null());
    const auto [loss_diff, weight_diff] = difference(nvme, cpu);
    std::printf("[gpu nvme] stage %d%s world %d: against the cpu offload: loss %.2e weights %.2e\n", stage,
                options.c_str(), s.world, loss_diff, weight_diff);
    EXPECT_EQ(nvme["loss"], cpu["loss"]) << "stage " << stage << options;
    EXPECT_EQ(nvme["params"], cpu["params"]) << "stage " << stage << options;
    EXPECT_LT(nvme["loss"].back().get<double>(), nvme["loss"].front().get<double>());
    EXPECT_EQ(entries(dir), 0) << "the store leaves no files behind";
  }
}

// Lion and Adagrad on the GPU (LibTorch operations over the fp32 masters): stage 3 gives stage 2's
// bits on one GPU, and the pinned CPU offload trains as the device step. On an H200 both came out
// equal bit for bit; the bounds leave room for a CPU and a CUDA kernel that round a last bit
// differently (Lion's sign would then move an element the other way now and then).
TEST(GpuOptimizerKinds, LionAndAdagradTrainOnTheDeviceAndOffloaded) {
  if (torch::cuda::device_count() < 1) GTEST_SKIP() << "needs a GPU";
  for (const auto& [name, optimizer] : std::vector<std::pair<std::string, std::string>>{
           {"Lion", R"({"type": "Lion", "params": {"lr": 0.001, "betas": [0.9, 0.99], "weight_decay": 0.1}})"},
           {"Adagrad", R"({"type": "Adagrad", "params": {"lr": 0.01, "eps": 1e-6, "weight_decay": 0.01}})"}}) {
    RunSetup s;
    s.optimizer = optimizer;
    s.dtype = "bf16";
    s.accum = 2;
    s.device = "cuda";
    s.clipping = 0;
    s.stage = 2;
    const nlohmann::json stage2 = train(s);
    s.stage = 3;
    const nlohmann::json stage3 = train(s);
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "pin_memory": true})";
    const nlohmann::json offloaded = train(s);
    ASSERT_FALSE(stage2.is_null()) << name;
    ASSERT_FALSE(stage3.is_null()) << name;
    ASSERT_FALSE(offloaded.is_null()) << name;
    const auto [loss3, weights3] = difference(stage3, stage2);
    const auto [loss_off, weights_off] = difference(offloaded, stage3);
    std::printf("[gpu optimizer kinds] %s bf16 one GPU: stage 3 against stage 2: loss %.2e weights %.2e | CPU offload "
                "against the device step: loss %.2e weights %.2e\n", name.c_str(), loss3, weights3, loss_off, weights_off);
    EXPECT_LT(loss3, 1e-3) << name;
    EXPECT_LT(weights3, 1e-3) << name;
    EXPECT_LT(loss_off, 1e-2) << name;
    EXPECT_LT(weights_off, 5e-2) << name;
    EXPECT_LT(stage3["loss"].back().get<double>(), stage3["loss"].front().get<double>()) << name;
  }
}

}  // namespace

namespace {

// Trains `s` (one GPU, bf16) at stage 2 and at stage 3 and checks they agree (bit for bit in
// practice: both runs print their differences).
void expect_stage3_matches_stage2(RunSetup s, const char* what) {
  s.dtype = "bf16";
  s.device = "cuda";
  s.clipping = 0;  // the norm's summation order differs between the layouts; unclipped it is only reported
  s.stage = 2;
  const nlohmann::json stage2 = train(s);
  s.stage = 3;
  const nlohmann::json stage3 = train(s);
  ASSERT_FALSE(stage2.is_null());
  ASSERT_FALSE(stage3.is_null());
  const auto [loss_diff, weight_diff] = difference(stage3, stage2);
  std::printf("[gpu stage 3] one GPU, bf16, %s: stage 3 against stage 2: max loss rel diff %.2e, weight rel diff %.2e\n",
              what, loss_diff, weight_diff);
  EXPECT_LT(loss_diff, 1e-3);
  EXPECT_LT(weight_diff, 1e-3);
}

// Stage 3 with the optimizer on the GPU gathers each unit from its fp32 masters (rounding this
// rank's part into the gathered buffer, ParamGroup::gather_from_masters) where stage 2's fused step
// writes the 16-bit values itself. On one GPU the two give the same values, so the runs agree bit
// for bit; a prefetch that read the masters before the step wrote them would not.
TEST(GpuStage3, GatheringFromTheMastersMatchesStage2) {
  if (torch::cuda::device_count() < 1) GTEST_SKIP() << "needs a GPU";
  RunSetup s;
  s.accum = 2;
  expect_stage3_matches_stage2(s, "accumulation 2");
}

// Gradients reduced in fp32 (communication_data_type, as FSDP2 reduces): at stage 3 the units'
// gradients reach the fused step in fp32 while the persistent parameters' (biases, norms) stay bf16,
// so one step holds slots of both dtypes. It matches stage 2 reducing in fp32.
TEST(GpuStage3, ReducingInFp32MatchesStage2) {
  if (torch::cuda::device_count() < 1) GTEST_SKIP() << "needs a GPU";
  RunSetup s;
  s.comm_dtype = "fp32";
  expect_stage3_matches_stage2(s, "fp32 reduction");
}

// Activation checkpointing on the GPU: each recompute leaves its layer's unread result out (the
// last projection's GEMM and the residual add; result_is_unread in zero/unit.hpp) and takes the
// attention its forward kept (models/attention.hpp), and training matches the run that keeps its
// activations bit for bit: the Llama (GQA, biases) at stage 3, and the GPT with dropout (whose
// masks are drawn again over the unevaluated values; its attention is recomputed) at stage 2.
TEST(GpuActivationCheckpoint, RecomputingWithoutTheUnreadResultMatchesKeepingActivations) {
  if (torch::cuda::device_count() < 1) GTEST_SKIP() << "needs a GPU";
  for (const auto& [program, stage, args] : std::vector<std::tuple<std::string, int, std::string>>{
           {"tests/train_tiny_llama", 3, ""}, {"tests/train_tiny", 2, "--dropout 0.1"}}) {
    RunSetup s;
    s.program = program;
    s.stage = stage;
    s.dtype = "bf16";
    s.device = "cuda";
    s.clipping = 0;
    const nlohmann::json kept = train(s, args);
    const nlohmann::json recomputed = train(s, args + " --activation_checkpointing");
    ASSERT_FALSE(kept.is_null());
    ASSERT_FALSE(recomputed.is_null());
    const auto [loss_diff, weight_diff] = difference(recomputed, kept);
    std::printf("[gpu checkpointing] %s stage %d: recomputed against kept activations: max loss rel diff %.2e, "
                "weight rel diff %.2e\n", program.c_str(), stage, loss_diff, weight_diff);
    EXPECT_EQ(loss_diff, 0.0);
    EXPECT_EQ(weight_diff, 0.0);
  }
}

}  // namespace
