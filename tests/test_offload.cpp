// Optimizer offload ("offload_optimizer": {"device": "cpu"}) through real ranks (zsrun + MPI):
// stages 1-3, fp32 and bf16, world sizes 1 and 2, with and without gradient accumulation, train
// like the single-process reference and like the same run without offload; slots split into many
// pieces and a ring of one buffer change nothing; SGD offloads too; checkpoints of offloaded runs
// resume exactly and load into runs without offload (and back).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include "support/equivalence.hpp"
#include "support/offload_runs.hpp"
#include "test_ckpt_support.hpp"

namespace test_offload {

using namespace zs::testing;

namespace {

const char* kOffload = R"(, "offload_optimizer": {"device": "cpu", "pin_memory": true})";


class Offload : public ::testing::TestWithParam<std::tuple<int, std::string, int, int>> {};

TEST_P(Offload, MatchesReferenceAndTheRunWithoutOffload) {
  RunSetup s;
  std::tie(s.stage, s.dtype, s.accum, s.world) = GetParam();
  const nlohmann::json& ref = reference(s.dtype);
  ASSERT_FALSE(ref.is_null());
  const nlohmann::json plain = train(s);
  s.zero_extra = kOffload;
  const nlohmann::json offloaded = train(s);
  ASSERT_FALSE(plain.is_null());
  ASSERT_FALSE(offloaded.is_null());
  const auto [ref_loss, ref_weights] = difference(offloaded, ref);
  const auto [same_loss, same_weights] = difference(offloaded, plain);
  std::printf("[offload] stage %d %s accum %d world %d: vs reference loss %.2e weights %.2e | vs no offload "
              "loss %.2e weights %.2e\n",
              s.stage, s.dtype.c_str(), s.accum, s.world, ref_loss, ref_weights, same_loss, same_weights);
  // As the equivalence tests: fp32 differs only in the order of additions; bf16 rounds 16-bit
  // gradients after reductions over different groupings.
  const double tolerance = s.dtype == "fp32" ? 1e-5 : 3e-2;
  EXPECT_LT(ref_loss, tolerance);
  EXPECT_LT(ref_weights, tolerance);
  // Against the same run on the device optimizer only the CPU kernel's rounding of the last
  // few elements of each slot differs (cpu_adam.hpp), far below bf16's resolution.
  EXPECT_LT(same_loss, 1e-5);
  EXPECT_LT(same_weights, 1e-5);
  EXPECT_LT(offloaded["loss"].back().get<double>(), offloaded["loss"].front().get<double>());
}

// offload_optimizer.overlap_step: at stages 1-2 the units' slots are updated while the next
// forward runs, each unit waiting for its own (and all-gathering them) before it runs. Same bits
// as the step that finishes first, with checkpointing too (the wait sits in the units' hooks), and
// with a ring of one buffer and pieces that split slots.
TEST(OffloadOverlap, UpdatingUnitsDuringTheNextForwardChangesNothing) {
  for (int stage : {1, 2}) {
    RunSetup s;
    s.stage = stage;
    s.dtype = "bf16";
    s.accum = 2;
    s.world = 2;
    s.zero_extra = kOffload;
    const nlohmann::json plain = train(s);
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "overlap_step": true})";
    const nlohmann::json overlapped = train(s);
    nlohmann::json small_pieces;
    {
      ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "48");
      s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "overlap_step": true, "buffer_count": 1})";
      s.extra = R"(, "activation_checkpointing": {})";
      small_pieces = train(s);
    }
    ASSERT_FALSE(plain.is_null());
    ASSERT_FALSE(overlapped.is_null());
    ASSERT_FALSE(small_pieces.is_null());
    EXPECT_EQ(overlapped["loss"], plain["loss"]) << "stage " << stage;
    EXPECT_EQ(overlapped["params"], plain["params"]) << "stage " << stage;
    EXPECT_EQ(small_pieces["loss"], plain["loss"]) << "stage " << stage;
    EXPECT_EQ(small_pieces["params"], plain["params"]) << "stage " << stage;
  }
}

// offload_optimizer.super_offload at stage 3: without clipping each unit's CPU update starts in
// backward, once its gradient is reduced, and the step adds the rest. The same bits as the step
// after backward, with and without parameter offload, over accumulation windows, with pieces that
// split slots and a ring of one buffer under activation checkpointing; with clipping it runs after
// backward and still changes nothing.
TEST(SuperOffload, StartingTheStepInBackwardChangesNothing) {
  struct Case {
    std::string dtype;
    int accum, world;
    double clipping;
    bool params, small_pieces;
  };
  for (const Case& c : {Case{"bf16", 1, 2, 0.0, false, false}, Case{"bf16", 2, 2, 0.0, true, false},
                        Case{"fp32", 2, 1, 0.0, true, false}, Case{"bf16", 2, 2, 0.0, true, true},
                        Case{"bf16", 1, 2, 0.5, true, false}}) {
    RunSetup s;
    s.stage = 3;
    s.dtype = c.dtype;
    s.accum = c.accum;
    s.world = c.world;
    s.clipping = c.clipping;
    const std::string params = c.params ? R"(, "offload_param": {"device": "cpu"})" : "";
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu"})" + params;
    const nlohmann::json plain = train(s);
    std::optional<ScopedEnv> pieces;
    if (c.small_pieces) {
      pieces.emplace("ZS_OFFLOAD_PIECE_ELEMENTS", "48");
      s.extra = R"(, "activation_checkpointing": {})";
    }
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "super_offload": true)" +
                   std::string(c.small_pieces ? R"(, "buffer_count": 1)" : "") + "}" + params;
    const nlohmann::json early = train(s);
    ASSERT_FALSE(plain.is_null());
    ASSERT_FALSE(early.is_null());
    const std::string what = c.dtype + " accum " + std::to_string(c.accum) + " world " + std::to_string(c.world) +
                             " clipping " + std::to_string(c.clipping) + (c.params ? " +params" : "") +
                             (c.small_pieces ? " small pieces" : "");
    EXPECT_EQ(early["super_offload"].get<std::string>().empty(), c.clipping == 0) << what << ": " << early["super_offload"];
    EXPECT_EQ(early["loss"], plain["loss"]) << what;
    EXPECT_EQ(early["grad_norm"], plain["grad_norm"]) << what;
    EXPECT_EQ(early["params"], plain["params"]) << what;
    EXPECT_LT(early["loss"].back().get<double>(), early["loss"].front().get<double>()) << what;
  }
}

// offload_optimizer.ratio below 1 (a partial offload): the first slots keep fp32 masters and
// state on the device and are updated there by the device optimizer while the CPU updates the
// rest. Ratio 0 leaves everything on the device: the same bits as no offload. Ratio 0.5 mixes the
// two kernels, which differ only in the CPU kernel's rounding of a slot's last elements: it trains
// as the whole offload and as none, at every stage, with overlap_step at stage 2 and super_offload
// at stage 3 (the device's share is updated in the step, the CPU's during backward). With
// offload_param the split moves whole units, their shards and state to the host.
TEST(OffloadRatio, APartialOffloadTrainsAsTheWholeOneAndAsNone) {
  struct Case {
    int stage, accum;
    std::string dtype, options;
    double clipping;
    bool offload_param = false;
  };
  for (const Case& c : {Case{1, 2, "bf16", "", 0.5}, Case{2, 1, "bf16", R"(, "overlap_step": true)", 0.5},
                        Case{3, 2, "bf16", "", 0.5}, Case{3, 1, "bf16", R"(, "super_offload": true)", 0.0},
                        Case{3, 1, "fp32", "", 0.5}, Case{3, 2, "bf16", "", 0.5, true},
                        Case{3, 1, "bf16", R"(, "super_offload": true)", 0.0, true}}) {
    RunSetup s;
    s.stage = c.stage;
    s.dtype = c.dtype;
    s.accum = c.accum;
    s.world = 2;
    s.clipping = c.clipping;
    const std::string param = c.offload_param ? R"(, "offload_param": {"device": "cpu"})" : "";
    const std::string what = "stage " + std::to_string(c.stage) + " " + c.dtype + c.options + param;
    const nlohmann::json plain = train(s);
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu")" + c.options + "}" + param;
    const nlohmann::json whole = train(s);
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "ratio": 0.5)" + c.options + "}" + param;
    const nlohmann::json half = train(s);
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "ratio": 0)" + c.options + "}" + param;
    const nlohmann::json none = train(s);
    ASSERT_FALSE(plain.is_null()) << what;
    ASSERT_FALSE(whole.is_null()) << what;
    ASSERT_FALSE(half.is_null()) << what;
    ASSERT_FALSE(none.is_null()) << what;
    const auto [loss_whole, weights_whole] = difference(half, whole);
    const auto [loss_plain, weights_plain] = difference(half, plain);
    std::printf("[offload ratio] %s: ratio 0.5 against ratio 1: loss %.2e weights %.2e | against no offload: loss "
                "%.2e weights %.2e\n", what.c_str(), loss_whole, weights_whole, loss_plain, weights_plain);
    EXPECT_LT(loss_whole, 1e-5) << what;
    EXPECT_LT(weights_whole, 1e-5) << what;
    EXPECT_LT(loss_plain, 1e-5) << what;
    EXPECT_LT(weights_plain, 1e-5) << what;
    EXPECT_LT(half["loss"].back().get<double>(), half["loss"].front().get<double>()) << what;
    EXPECT_EQ(none["loss"], plain["loss"]) << what;
    EXPECT_EQ(none["params"], plain["params"]) << what;
    if (c.clipping == 0) EXPECT_EQ(half["super_offload"], "") << what;
    // Both sides took slots: neither share is empty.
    const std::string split = half["offload"].get<std::string>();
    std::printf("[offload ratio] %s: %s\n", what.c_str(), split.substr(std::min(split.find("| ratio"), split.size())).c_str());
    EXPECT_NE(split.find("on the CPU, the rest on the device (AdamW)"), std::string::npos) << what << ": " << split;
    EXPECT_EQ(split.find("| ratio: 0.0%"), std::string::npos) << what << ": " << split;
    EXPECT_EQ(split.find("| ratio: 100.0%"), std::string::npos) << what << ": " << split;
    EXPECT_EQ(split.find(" units)") != std::string::npos, c.offload_param) << what << ": " << split;
  }
}

// A partial offload's checkpoint holds every slot's master and state wherever they lived: it
// resumes exactly, and continues under the whole offload as the partial run does.
// With offload_param too, the units on the host and those on the device load alike.
TEST(OffloadRatio, CheckpointsResumeExactlyAndLoadUnderTheWholeOffload) {
  constexpr int kTotal = 8, kSplit = 4;
  for (const std::string param : {"", R"(, "offload_param": {"device": "cpu"})"}) {
    const std::string dir = temp_dir(param.empty() ? "offload_ratio_resume" : "offload_ratio_param_resume");
    RunSetup setup = setup_of(2, 3, "bf16");
    setup.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "ratio": 0.5})" + param;
    const TinyRun second = expect_bitwise_resume(setup, dir, kTotal, kSplit);
    ASSERT_FALSE(second.result.is_null()) << param;
    RunSetup whole = setup_of(2, 3, "bf16");
    whole.zero_extra = kOffload + param;
    const TinyRun continued = run_tiny(whole, dir, "whole", "--steps " + std::to_string(kTotal) + " --load_dir " + dir + "/ck");
    ASSERT_EQ(continued.run.exit_code, 0) << continued.run.output;
    const auto [loss, weights] = difference(continued.result, second.result);
    std::printf("[offload ratio] stage 3 bf16%s: the partial offload's checkpoint continued under the whole offload: "
                "loss %.2e weights %.2e\n", param.c_str(), loss, weights);
    EXPECT_LT(loss, 1e-5) << param;
    EXPECT_LT(weights, 1e-5) << param;
  }
}

std::string name_of(const ::testing::TestParamInfo<Offload::ParamType>& info) {
  const auto& [stage, dtype, accum, world] = info.param;
  return "stage" + std::to_string(stage) + "_" + dtype + "_accum" + std::to_string(accum) + "_world" +
         std::to_string(world);
}

INSTANTIATE_TEST_SUITE_P(Matrix, Offload,
                         ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Values("fp32", "bf16"),
                                            ::testing::Values(1), ::testing::Values(1, 2)),
                         name_of);
INSTANTIATE_TEST_SUITE_P(Accumulation, Offload,
                         ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Values("fp32", "bf16"),
                                            ::testing::Values(4), ::testing::Values(2)),
                         name_of);

// offload_param with offload_optimizer at stage 3: the units' 16-bit shards live in host memory
// (on CPU ranks that is where they were anyway; the GPU equivalence test covers the copies).
TEST(OffloadParam, Stage3MatchesTheRunWithoutOffload) {
  for (const std::string dtype : {"fp32", "bf16"}) {
    RunSetup s;
    s.stage = 3;
    s.world = 2;
    s.dtype = dtype;
    const nlohmann::json plain = train(s);
    s.zero_extra = R"(, "offload_optimizer": {"device": "cpu"}, "offload_param": {"device": "cpu"})";
    const nlohmann::json offloaded = train(s);
    ASSERT_FALSE(plain.is_null());
    ASSERT_FALSE(offloaded.is_null());
    const auto [loss, weights] = difference(offloaded, plain);
    std::printf("[offload] stage 3 %s world 2, optimizer + parameters: vs no offload loss %.2e weights %.2e\n",
                dtype.c_str(), loss, weights);
    EXPECT_LT(loss, 1e-5);
    EXPECT_LT(weights, 1e-5);
  }
}

// Slots cut into 48-element pieces (every bucket chunk becomes several), with rings of 2 and 1
// buffers: the same bits as whole-slot pieces, since pieces start on the kernel's 16-element
// vectors and the update is element-wise.
TEST(OffloadPieces, SplittingSlotsChangesNothing) {
  for (const std::string dtype : {"fp32", "bf16"}) {
    RunSetup s;
    s.stage = 3;
    s.dtype = dtype;
    s.world = 2;
    s.accum = 2;
    s.zero_extra = kOffload;
    const nlohmann::json whole = train(s);
    ASSERT_FALSE(whole.is_null());
    ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "48");
    for (int buffers : {2, 1}) {
      s.zero_extra = R"(, "offload_optimizer": {"device": "cpu", "buffer_count": )" + std::to_string(buffers) + "}";
      const nlohmann::json split = train(s);
      ASSERT_FALSE(split.is_null());
      EXPECT_EQ(split["loss"], whole["loss"]) << dtype << ", " << buffers << " buffer(s)";
      EXPECT_EQ(split["params"], whole["params"]) << dtype << ", " << buffers << " buffer(s)";
    }
  }
}

// fp16 with an overflow injected on rank 1 at steps 2 and 3: the offloaded run skips the same
// steps (the check stays on the device) and otherwise trains as the run without offload.
TEST(OffloadFp16, OverflowSkipsAsWithoutOffload) {
  for (int stage : {2, 3}) {
    RunSetup s;
    s.stage = stage;
    s.dtype = "fp16";
    s.world = 2;
    s.accum = 2;
    const std::string poison = "--poison_steps 2 3 --poison_rank 1";
    const nlohmann::json plain = train(s, poison);
    s.zero_extra = kOffload;
    const nlohmann::json offloaded = train(s, poison);
    ASSERT_FALSE(plain.is_null());
    ASSERT_FALSE(offloaded.is_null());
    EXPECT_EQ(offloaded["skipped"], plain["skipped"]) << "stage " << stage;
    EXPECT_EQ(offloaded["loss_scale"], plain["loss_scale"]) << "stage " << stage;
    const auto [loss, weights] = difference(offloaded, plain);
    std::printf("[offload] fp16 stage %d with overflows: loss %.2e weights %.2e\n", stage, loss, weights);
    EXPECT_LT(loss, 1e-5) << "stage " << stage;
    EXPECT_LT(weights, 1e-5) << "stage " << stage;
  }
}

// SGD with momentum and Nesterov, offloaded: LibTorch's fused CPU SGD on host state, the same
// numbers as the device optimizer (the same kernel here).
TEST(OffloadSgd, MatchesTheRunWithoutOffload) {
  for (int stage : {1, 3}) {
    RunSetup s;
    s.stage = stage;
    s.world = 2;
    s.accum = 2;
    s.optimizer = R"({"type": "SGD", "params": {"lr": 0.05, "momentum": 0.9, "nesterov": true, "weight_decay": 0.01}})";
    const std::string dir = temp_dir("offload_sgd");
    const TinyRun plain = run_tiny(s, dir, "plain", "--steps 8");
    s.zero_extra = kOffload;
    const TinyRun offloaded = run_tiny(s, dir, "offloaded", "--steps 8");
    ASSERT_EQ(plain.run.exit_code, 0) << plain.run.output;
    ASSERT_EQ(offloaded.run.exit_code, 0) << offloaded.run.output;
    const auto [loss, weights] = difference(offloaded.result, plain.result);
    std::printf("[offload] SGD stage %d: loss %.2e weights %.2e\n", stage, loss, weights);
    EXPECT_LT(loss, 1e-6) << "stage " << stage;
    EXPECT_LT(weights, 1e-6) << "stage " << stage;
  }
}

// 8 uninterrupted offloaded steps == 4 steps + save, then a new process: load + 4 steps, bit for
// bit (masters and state are saved in fp32 from host memory and loaded back there). Four steps on
// each side of the save: a state that came back wrong shows in the first step's bits already.
void expect_exact_offloaded_resume(int stage, const std::string& dtype) {
  constexpr int kTotal = 8, kSplit = 4;
  const std::string dir = temp_dir("offload_resume");
  RunSetup setup = setup_of(2, stage, dtype);
  setup.zero_extra = kOffload;
  const TinyRun second = expect_bitwise_resume(setup, dir, kTotal, kSplit);
  ASSERT_FALSE(second.result.is_null());

  // The same checkpoint loads into a run without offload, and one saved without offload loads
  // into an offloaded run: the state has the same names and layout either way.
  RunSetup plain_setup = setup_of(2, stage, dtype);
  const TinyRun on_device = run_tiny(plain_setup, dir, "on_device", "--steps " + std::to_string(kTotal) + " --load_dir " + dir + "/ck");
  ASSERT_EQ(on_device.run.exit_code, 0) << on_device.run.output;
  const auto [loss, weights] = difference(on_device.result, second.result);
  std::printf("[offload] stage %d %s: offloaded checkpoint continued without offload: loss %.2e weights %.2e\n", stage,
              dtype.c_str(), loss, weights);
  EXPECT_LT(loss, 1e-5);
  EXPECT_LT(weights, 1e-5);

  const TinyRun plain_first = run_tiny(plain_setup, dir, "plain_first",
                                       "--steps " + std::to_string(kSplit) + " --save_dir " + dir + "/ck_plain --save_at " +
                                           std::to_string(kSplit));
  const TinyRun plain_to_host = run_tiny(setup, dir, "plain_to_host",
                                         "--steps " + std::to_string(kTotal) + " --load_dir " + dir + "/ck_plain");
  ASSERT_EQ(plain_first.run.exit_code, 0) << plain_first.run.output;
  ASSERT_EQ(plain_to_host.run.exit_code, 0) << plain_to_host.run.output;
  const auto [loss2, weights2] = difference(plain_to_host.result, second.result);
  std::printf("[offload] stage %d %s: device checkpoint continued with offload: loss %.2e weights %.2e\n", stage,
              dtype.c_str(), loss2, weights2);
  EXPECT_LT(loss2, 1e-5);
  EXPECT_LT(weights2, 1e-5);
}

}  // namespace

TEST(OffloadCheckpoint, ExactResumeStage1Fp32) { expect_exact_offloaded_resume(1, "fp32"); }
TEST(OffloadCheckpoint, ExactResumeStage2Bf16) { expect_exact_offloaded_resume(2, "bf16"); }
TEST(OffloadCheckpoint, ExactResumeStage3Bf16) { expect_exact_offloaded_resume(3, "bf16"); }

// The engine's summary line says where the optimizer state went and how the step runs.
TEST(OffloadSummary, EngineNamesTheOffload) {
  const std::string dir = temp_dir("offload_summary");
  write_text(dir + "/ds.json", R"({"train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 1,
    "optimizer": {"type": "AdamW", "params": {"lr": 0.001}},
    "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu", "pin_memory": true}}})");
  const RunResult r = run_command(bin("train_gpt") + " --device cpu --dtype float32 --deepspeed_config " + dir +
                                  "/ds.json --n_layer 1 --n_head 2 --n_embd 16 --block_size 8 --max_iters 2 --eval_interval 0 "
                                  "--sample_tokens 0 2>&1", 120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // A CPU run cannot pin; the thread count and SIMD flavour depend on the machine.
  EXPECT_NE(r.output.find("[zeroshard] optimizer state offloaded to cpu (not pinned) | fused CPU AdamW, "), std::string::npos)
      << r.output;

  // A partial offload says how the step is split. The layer's matrices and the embeddings are
  // separate slots, so a ratio of 0.5 leaves some of them on each side.
  write_text(dir + "/ds_ratio.json", R"({"train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 1,
    "optimizer": {"type": "AdamW", "params": {"lr": 0.001}},
    "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu", "ratio": 0.5}}})");
  const RunResult partial = run_command(bin("train_gpt") + " --device cpu --dtype float32 --deepspeed_config " + dir +
                                        "/ds_ratio.json --n_layer 1 --n_head 2 --n_embd 16 --block_size 8 --max_iters 2 "
                                        "--eval_interval 0 --sample_tokens 0 2>&1", 120);
  ASSERT_EQ(partial.exit_code, 0) << partial.output;
  EXPECT_NE(partial.output.find("on the CPU, the rest on the device (AdamW)"), std::string::npos) << partial.output;
  EXPECT_EQ(partial.output.find("| ratio: 0.0%"), std::string::npos) << partial.output;
  EXPECT_EQ(partial.output.find("| ratio: 100.0%"), std::string::npos) << partial.output;
}

}  // namespace test_offload
