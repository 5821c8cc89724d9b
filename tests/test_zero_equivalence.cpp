// Multi-process equivalence: every ZeRO stage, in fp32 and bf16, with and without gradient
// accumulation, at world sizes 1, 2 and 3 (real ranks, real MPI collectives through zsrun),
// gives the same losses and final weights as a single-process stage-0 run of the same global
// batch. Gradient clipping is active in every run. fp16 runs inject an overflow on one rank
// and check that every rank skips the step and the loss scale follows the dynamic rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "support/run_ranks.hpp"

using namespace zs::testing;

namespace {

constexpr int kGlobalBatch = 24;
constexpr int kSteps = 8;

struct Setup {
  int stage = 0;
  std::string dtype = "fp32";   // fp32, bf16, fp16
  int accum = 1;
  int world = 1;
  bool overlap = true;
  bool reduce_scatter = true;
  std::string comm_dtype;       // empty: default
  std::string extra;            // extra top-level JSON members, with a leading comma
};

std::string config_json(const Setup& s) {
  const int micro = kGlobalBatch / (s.accum * s.world);
  std::string precision;
  if (s.dtype == "bf16") precision = R"(, "bf16": {"enabled": true})";
  if (s.dtype == "fp16")
    precision = R"(, "fp16": {"enabled": true, "initial_scale_power": 8, "hysteresis": 2, "loss_scale_window": 1000})";
  std::string comm = s.comm_dtype.empty() ? "" : R"(, "communication_data_type": ")" + s.comm_dtype + "\"";
  return R"({
    "train_batch_size": )" + std::to_string(kGlobalBatch) + R"(,
    "train_micro_batch_size_per_gpu": )" + std::to_string(micro) + R"(,
    "gradient_accumulation_steps": )" + std::to_string(s.accum) + R"(,
    "gradient_clipping": 0.5,
    "optimizer": {"type": "AdamW", "params": {"lr": 0.003, "betas": [0.9, 0.95], "weight_decay": 0.1}},
    "zero_optimization": {"stage": )" + std::to_string(s.stage) + R"(, "reduce_bucket_size": 3000,
       "allgather_bucket_size": 5000, "overlap_comm": )" + (s.overlap ? "true" : "false") +
         R"(, "reduce_scatter": )" + (s.reduce_scatter ? "true" : "false") + "}" + precision + comm + s.extra + "}";
}

nlohmann::json train(const Setup& s, const std::string& args = "") {
  const std::string dir = temp_dir("eq");
  write_text(dir + "/config.json", config_json(s));
  const RunResult r = run_ranks(s.world, bin("tests/train_tiny") + " --config " + dir + "/config.json --out " + dir +
                                             "/result.json --steps " + std::to_string(kSteps) + " " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? read_json(dir + "/result.json") : nlohmann::json();
}

// Largest relative difference of the per-step losses, and the relative difference of all final
// weights together, ||w - w_ref|| / ||w_ref|| (Adam amplifies rounding on elements whose
// gradients are near zero, so single elements say more about Adam than about sharding).
std::pair<double, double> difference(const nlohmann::json& a, const nlohmann::json& b) {
  double loss = 0, diff_sq = 0, ref_sq = 0;
  for (size_t i = 0; i < a["loss"].size(); ++i)
    loss = std::max(loss, std::abs(a["loss"][i].get<double>() - b["loss"][i].get<double>()) /
                              std::abs(b["loss"][i].get<double>()));
  for (const auto& [name, values] : b["params"].items()) {
    const auto& other = a["params"][name];
    for (size_t i = 0; i < values.size(); ++i) {
      const double r = values[i].get<double>(), d = r - other[i].get<double>();
      ref_sq += r * r;
      diff_sq += d * d;
    }
  }
  return {loss, std::sqrt(diff_sq / ref_sq)};
}

const nlohmann::json& reference(const std::string& dtype) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(dtype);
  if (it == cache.end()) {
    Setup s;
    s.dtype = dtype;
    it = cache.emplace(dtype, train(s)).first;
  }
  return it->second;
}

class Equivalence : public ::testing::TestWithParam<std::tuple<int, std::string, int, int>> {};

TEST_P(Equivalence, MatchesSingleProcessReference) {
  Setup s;
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
                         ::testing::Combine(::testing::Values(0, 1, 2), ::testing::Values("fp32", "bf16"),
                                            ::testing::Values(1, 4), ::testing::Values(1, 2, 3)),
                         name_of);

// Variants of the communication path: no overlap, all-reduce instead of reduce-scatter, fp32
// reduction of bf16 gradients, prescaled gradients.
TEST(EquivalenceVariants, CommunicationOptions) {
  for (int stage : {0, 1, 2}) {
    Setup s;
    s.stage = stage;
    s.world = 3;
    s.accum = 4;
    s.overlap = false;
    auto [l1, w1] = difference(train(s), reference("fp32"));
    EXPECT_LT(l1, 5e-6) << "no overlap, stage " << stage;
    EXPECT_LT(w1, 5e-6) << "no overlap, stage " << stage;
    s.overlap = true;
    s.reduce_scatter = false;
    auto [l2, w2] = difference(train(s), reference("fp32"));
    EXPECT_LT(l2, 5e-6) << "all-reduce instead of reduce-scatter, stage " << stage;
    EXPECT_LT(w2, 5e-6) << "all-reduce instead of reduce-scatter, stage " << stage;
    s.reduce_scatter = true;
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

// fp16: rank 1 turns one gradient into inf at steps 2 and 3. Every rank must skip both steps;
// with hysteresis 2 the first overflow keeps the scale and the second halves it.
TEST(LossScaling, InjectedOverflowSkipsTheStepOnEveryRank) {
  for (int stage : {0, 1, 2}) {
    Setup s;
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
    Setup one = s;
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
