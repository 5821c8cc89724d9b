// The Llama under ZeRO stages 0-3 at world sizes 1, 2 and 3, with activation checkpointing of its
// decoder layers, through real ranks (zsrun, MPI): the same losses and final weights as a single
// process at stage 0 that keeps its activations (fp32, only the order of additions differs).
#include <gtest/gtest.h>

#include "support/equivalence.hpp"

namespace test_llama_equivalence {

using namespace zs::testing;

namespace {

const char* kLlama = "tests/train_tiny_llama";

class LlamaEquivalence : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(LlamaEquivalence, MatchesSingleProcessReference) {
  RunSetup s;
  std::tie(s.stage, s.world) = GetParam();
  s.program = kLlama;
  const nlohmann::json& ref = reference("fp32", "cpu", kLlama);
  ASSERT_FALSE(ref.is_null());
  const nlohmann::json got = train(s, "--activation_checkpointing");
  ASSERT_FALSE(got.is_null());
  const auto [loss_diff, weight_diff] = difference(got, ref);
  std::printf("[llama equivalence] stage %d world %d, activation checkpointing: loss rel diff %.2e, weights %.2e\n",
              s.stage, s.world, loss_diff, weight_diff);
  EXPECT_LT(loss_diff, 5e-6);
  EXPECT_LT(weight_diff, 5e-6);
  EXPECT_LT(got["loss"].back().get<double>(), got["loss"].front().get<double>());
}

std::string name_of(const ::testing::TestParamInfo<LlamaEquivalence::ParamType>& info) {
  return "stage" + std::to_string(std::get<0>(info.param)) + "_world" + std::to_string(std::get<1>(info.param));
}

// Built on the meta device and materialised by the engine (one decoder layer at a time at stage
// 3) with Llama::init_parameter: the same initial weights as the host-built model, so the same run.
TEST(LlamaMetaDevice, EngineMaterialisesTheSameModel) {
  for (const auto& [stage, world] : std::vector<std::pair<int, int>>{{0, 1}, {3, 2}, {1, 3}}) {
    RunSetup s;
    s.stage = stage;
    s.world = world;
    s.program = kLlama;
    const nlohmann::json got = train(s, "--meta --activation_checkpointing");
    ASSERT_FALSE(got.is_null());
    const auto [loss_diff, weight_diff] = difference(got, reference("fp32", "cpu", kLlama));
    std::printf("[llama meta] stage %d world %d: loss rel diff %.2e, weights %.2e\n", stage, world, loss_diff, weight_diff);
    EXPECT_LT(loss_diff, 5e-6);
    EXPECT_LT(weight_diff, 5e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Matrix, LlamaEquivalence,
                         ::testing::Combine(::testing::Values(0, 1, 2, 3), ::testing::Values(1, 2, 3)), name_of);

}  // namespace

}  // namespace test_llama_equivalence
