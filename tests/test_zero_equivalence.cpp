// Multi-process equivalence: every ZeRO stage (0-3), in fp32 and bf16, with and without gradient
// accumulation, at world sizes 1, 2 and 3 (real ranks, real MPI collectives through zsrun),
// gives the same losses and final weights as a single-process stage-0 run of the same global
// batch. Gradient clipping is active in every run. fp16 runs inject an overflow on one rank
// and check that every rank skips the step and the loss scale follows the dynamic rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "support/equivalence.hpp"

namespace test_zero_equivalence {

using namespace zs::testing;

namespace {

class Equivalence : public ::testing::TestWithParam<std::tuple<int, std::string, int, int>> {};

TEST_P(Equivalence, MatchesSingleProcessReference) {
  RunSetup s;
  std::tie(s.stage, s.dtype, s.accum, s.world) = GetParam();
  const nlohmann::json& ref = reference(s.dtype);
  ASSERT_FALSE(ref.is_null());
  const nlohmann::json got = train(s);
  ASSERT_FALSE(got.is_null());
  const auto [loss_diff, weight_diff] = difference(got, ref);
  // fp32: only the order of additions differs. bf16: 16-bit gradients are rounded after
  // reductions over different groupings of the same samples.
  const double tolerance = s.dtype == "fp32" ? 5e-6 : 3e-2;
  std::printf("[equivalence] stage %d %s accum %d world %d: max loss rel diff %.2e, max weight diff %.2e\n", s.stage,
              s.dtype.c_str(), s.accum, s.world, loss_diff, weight_diff);
  EXPECT_LT(loss_diff, tolerance);
  EXPECT_LT(weight_diff, tolerance);
  // The loss falls.
  EXPECT_LT(got["loss"].back().get<double>(), got["loss"].front().get<double>());
}

std::string name_of(const ::testing::TestParamInfo<Equivalence::ParamType>& info) {
  const auto& [stage, dtype, accum, world] = info.param;
  return "stage" + std::to_string(stage) + "_" + dtype + "_accum" + std::to_string(accum) + "_world" +
         std::to_string(world);
}

INSTANTIATE_TEST_SUITE_P(Matrix, Equivalence,
                         ::testing::Combine(::testing::Values(0, 1, 2, 3), ::testing::Values("fp32", "bf16"),
                                            ::testing::Values(1, 4), ::testing::Values(1, 2, 3)),
                         name_of);

// Variants of the communication path: no overlap, all-reduce instead of reduce-scatter, fp32
// reduction of bf16 gradients, prescaled gradients.
TEST(EquivalenceVariants, CommunicationOptions) {
  for (int stage : {0, 1, 2, 3}) {
    RunSetup s;
    s.stage = stage;
    s.world = 3;
    s.accum = 4;
    s.overlap = false;
    auto [l1, w1] = difference(train(s), reference("fp32"));
    EXPECT_LT(l1, 5e-6) << "no overlap, stage " << stage;
    EXPECT_LT(w1, 5e-6) << "no overlap, stage " << stage;
    s.overlap = true;
    // Stage 0 all-reduces whole buckets whatever reduce_scatter says (ParamGroup::launch): that run
    // would be the matrix's stage0_fp32_accum4_world3 again.
    if (stage > 0) {
      s.reduce_scatter = false;
      auto [l2, w2] = difference(train(s), reference("fp32"));
      EXPECT_LT(l2, 5e-6) << "all-reduce instead of reduce-scatter, stage " << stage;
      EXPECT_LT(w2, 5e-6) << "all-reduce instead of reduce-scatter, stage " << stage;
      s.reduce_scatter = true;
    }
    s.extra = R"(, "prescale_gradients": true, "gradient_predivide_factor": 2.0)";
    auto [l3, w3] = difference(train(s), reference("fp32"));
    EXPECT_LT(l3, 5e-6) << "prescaled gradients, stage " << stage;
    EXPECT_LT(w3, 5e-6) << "prescaled gradients, stage " << stage;
    s.extra.clear();
    s.dtype = "bf16";
    s.comm_dtype = "fp32";
    auto [l4, w4] = difference(train(s), reference("bf16"));
    EXPECT_LT(l4, 3e-2) << "bf16 with fp32 reduction, stage " << stage;
    EXPECT_LT(w4, 3e-2) << "bf16 with fp32 reduction, stage " << stage;
  }
}

// Stage 3 release policy: with stage3_max_reuse_distance 0 every unit is released after each use;
// with the default (1e9) the units whose backward follows soon stay gathered; with a
// stage3_max_live_parameters that admits one unit only, nothing is kept or prefetched. The
// results are the same bits whichever units stayed gathered.
TEST(EquivalenceVariants, Stage3ReleasePolicies) {
  RunSetup s;
  s.stage = 3;
  s.world = 2;
  s.accum = 2;
  const nlohmann::json kept = train(s, "--activation_checkpointing");
  s.zero_extra = R"(, "stage3_max_reuse_distance": 0)";
  const nlohmann::json released = train(s, "--activation_checkpointing");
  s.zero_extra = R"(, "stage3_max_live_parameters": 1)";
  const nlohmann::json one_live = train(s);
  ASSERT_FALSE(kept.is_null());
  ASSERT_FALSE(released.is_null());
  ASSERT_FALSE(one_live.is_null());
  const auto [l1, w1] = difference(released, kept);
  EXPECT_EQ(l1, 0);
  EXPECT_EQ(w1, 0);
  const auto [l2, w2] = difference(one_live, reference("fp32"));
  EXPECT_LT(l2, 5e-6);
  EXPECT_LT(w2, 5e-6);
}

// Stage 3 with activation checkpointing (recomputation re-gathers the units) at world sizes 1-3
// against the single-process reference that keeps its activations.
TEST(ActivationCheckpointing, Stage3MatchesTheReferenceAtEveryWorldSize) {
  for (const std::string dtype : {"fp32", "bf16"}) {
    for (int world : {1, 2, 3}) {
      RunSetup s;
      s.stage = 3;
      s.world = world;
      s.dtype = dtype;
      const nlohmann::json got = train(s, "--activation_checkpointing");
      ASSERT_FALSE(got.is_null());
      const auto [loss_diff, weight_diff] = difference(got, reference(dtype));
      std::printf("[checkpointing] stage 3 %s world %d: vs reference loss %.2e weights %.2e\n", dtype.c_str(), world,
                  loss_diff, weight_diff);
      const double tolerance = dtype == "fp32" ? 1e-5 : 3e-2;
      EXPECT_LT(loss_diff, tolerance) << dtype << " world " << world;
      EXPECT_LT(weight_diff, tolerance) << dtype << " world " << world;
    }
  }
}

// Activation checkpointing recomputes each block in backward, with the forward's random state:
// with dropout on, losses and weights equal those of the run that kept its activations.
TEST(ActivationCheckpointing, MatchesTheRunThatKeepsActivations) {
  for (int stage : {0, 1, 2, 3}) {
    RunSetup s;
    s.stage = stage;
    s.world = 2;
    s.accum = 2;
    const nlohmann::json plain = train(s, "--dropout 0.1");
    const nlohmann::json recomputed = train(s, "--dropout 0.1 --activation_checkpointing");
    ASSERT_FALSE(plain.is_null());
    ASSERT_FALSE(recomputed.is_null());
    const auto [loss_diff, weight_diff] = difference(recomputed, plain);
    std::printf("[checkpointing] stage %d: max loss rel diff %.2e, weight rel diff %.2e\n", stage, loss_diff, weight_diff);
    EXPECT_LT(loss_diff, 1e-6) << "stage " << stage;
    EXPECT_LT(weight_diff, 1e-6) << "stage " << stage;
  }
}

// fp16: rank 1 turns one gradient into inf at steps 2 and 3. Every rank must skip both steps;
// with hysteresis 2 the first overflow keeps the scale and the second halves it.
TEST(LossScaling, InjectedOverflowSkipsTheStepOnEveryRank) {
  for (int stage : {0, 1, 2, 3}) {
    RunSetup s;
    s.stage = stage;
    s.dtype = "fp16";
    s.world = 2;
    s.accum = 2;
    const nlohmann::json got = train(s, "--poison_steps 2 3 --poison_rank 1");
    ASSERT_FALSE(got.is_null());
    const std::vector<bool> skipped = got["skipped"];
    const std::vector<double> scale = got["loss_scale"];
    for (int i = 0; i < kSteps; ++i) EXPECT_EQ(skipped[i], i == 2 || i == 3) << "stage " << stage << " step " << i;
    EXPECT_EQ(scale[1], 256.0);
    EXPECT_EQ(scale[2], 256.0) << "hysteresis: the first overflow keeps the scale";
    EXPECT_EQ(scale[3], 128.0) << "the second overflow halves it";
    EXPECT_EQ(scale.back(), 128.0);
    // A single process with the same injection takes the same path and ends with similar weights.
    RunSetup one = s;
    one.world = 1;
    const nlohmann::json ref = train(one, "--poison_steps 2 3 --poison_rank 0");
    ASSERT_FALSE(ref.is_null());
    EXPECT_EQ(ref["skipped"], got["skipped"]);
    auto [loss_diff, weight_diff] = difference(got, ref);
    EXPECT_LT(loss_diff, 3e-2);
    EXPECT_LT(weight_diff, 3e-2);
  }
}

}  // namespace

namespace {

// A plain torch::nn::Sequential MLP with no unit code, on 2 ranks: at stage 3 the engine makes its
// children units, so each rank holds about half of the parameter memory stage 2 holds (the
// matrices are partitioned; the biases, under the persistence threshold, stay whole), and the
// training is the same.
TEST(AutomaticUnits, APlainSequentialAtStage3HoldsHalfTheParameters) {
  using namespace zs::testing;
  nlohmann::json runs[4];
  for (int stage : {2, 3}) {
    const std::string dir = temp_dir("mlp");
    write_text(dir + "/config.json", R"({"train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 1,
        "optimizer": {"type": "AdamW", "params": {"lr": 0.003}},
        "zero_optimization": {"stage3_param_persistence_threshold": 1000, "stage": )" + std::to_string(stage) + "}}");
    const RunResult r = run_ranks(2, bin("tests/mlp_sequential") + " --config " + dir + "/config.json --out " + dir + "/r.json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    runs[stage] = read_json(dir + "/r.json");
  }
  const std::vector<double> stage2 = runs[2]["param_bytes"], stage3 = runs[3]["param_bytes"];
  for (int rank = 0; rank < 2; ++rank) {
    std::printf("[mlp] rank %d parameter bytes: stage 2 %.0f, stage 3 %.0f (%.3f)\n", rank, stage2[rank], stage3[rank],
                stage3[rank] / stage2[rank]);
    EXPECT_LT(stage3[rank], 0.55 * stage2[rank]) << "rank " << rank;
    EXPECT_GT(stage3[rank], 0.45 * stage2[rank]) << "rank " << rank;
  }
  EXPECT_EQ(runs[3]["units"], (nlohmann::json{"0", "2", "4"}));
  const auto [loss_diff, weight_diff] = difference(runs[3], runs[2]);
  EXPECT_LT(loss_diff, 1e-6);
  EXPECT_LT(weight_diff, 1e-6);
}

}  // namespace

}  // namespace test_zero_equivalence
