// The GPT built on the meta device and made by the engine on real ranks (zsrun, MPI), each
// parameter initialised where it lives through GPT::init_parameter (EngineOptions::meta_init), as
// bench_gpt and train_gpt do on GPUs: nanoGPT's initial weights (the host constructor's
// distribution), the same at every stage and world size, and a run that trains like the
// reference.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/equivalence.hpp"

namespace test_gpt_meta {

using namespace zs::testing;

namespace {

// tests/train_tiny (a 2-block GPT, n_embd 32) for `steps` steps; with 0 the result holds the
// initial weights as the engine made them.
nlohmann::json run_tiny(int stage, int world, int steps, const std::string& args) {
  RunSetup s;
  s.stage = stage;
  s.world = world;
  const std::string dir = temp_dir("gpt_meta");
  write_text(dir + "/config.json", config_json(s));
  const RunResult r = run_ranks(world, bin(s.program) + " --config " + dir + "/config.json --out " + dir +
                                           "/result.json --steps " + std::to_string(steps) + " " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? read_json(dir + "/result.json") : nlohmann::json();
}

struct Moments {
  double mean = 0, std = 0;
};
Moments moments(const nlohmann::json& values) {
  Moments m;
  for (const auto& v : values) m.mean += v.get<double>();
  m.mean /= double(values.size());
  for (const auto& v : values) m.std += (v.get<double>() - m.mean) * (v.get<double>() - m.mean);
  m.std = std::sqrt(m.std / double(values.size() - 1));
  return m;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

// Stage 3 on 2 ranks (each block made, initialised and sharded on its own), and stages 0-2: per
// tensor the host-built model's statistics (exact ones and zeros for norms and biases, the same
// mean and spread for the random matrices: N(0, 0.02), the residual projections N(0, 0.01) with
// 2 layers), and exactly the same weights at every stage.
TEST(GPTMetaInit, EngineMakesNanoGPTsInitialWeightsAtEveryStage) {
  const nlohmann::json host = run_tiny(0, 1, 0, "");
  ASSERT_FALSE(host.is_null());
  nlohmann::json first;
  for (int stage : {3, 0, 1, 2}) {
    const nlohmann::json got = run_tiny(stage, 2, 0, "--meta");
    ASSERT_FALSE(got.is_null());
    ASSERT_EQ(got["params"].size(), host["params"].size());
    for (const auto& [name, values] : host["params"].items()) {
      ASSERT_TRUE(got["params"].contains(name)) << name;
      const nlohmann::json& mine = got["params"][name];
      ASSERT_EQ(mine.size(), values.size()) << name;
      const Moments h = moments(values), m = moments(mine);
      if (h.std == 0) {  // LayerNorm weights (ones) and biases (zeros)
        EXPECT_EQ(mine, values) << name;
        continue;
      }
      const double expected_std = ends_with(name, "c_proj.weight") ? 0.02 / std::sqrt(2.0 * 2) : 0.02;
      const double n = double(values.size());
      // Bounds of about 5 standard errors for tensors of 512 to 4096 values.
      EXPECT_NEAR(m.std, h.std, 0.2 * h.std) << name << " at stage " << stage;
      EXPECT_NEAR(m.std, expected_std, 0.15 * expected_std) << name << " at stage " << stage;
      EXPECT_NEAR(m.mean, h.mean, 7.0 * expected_std / std::sqrt(n)) << name << " at stage " << stage;
      EXPECT_NE(mine, values) << name << ": drawn again, not the host's values";
    }
    std::printf("[gpt meta] stage %d world 2: %zu tensors with the host model's statistics\n", stage, got["params"].size());
    if (first.is_null()) {
      first = got;
    } else {
      EXPECT_EQ(got["params"], first["params"]) << "stage " << stage << " made other initial weights than stage 3";
    }
  }
}

// Trains at stage 3 on 2 ranks: the losses fall, the run is the single-process run of the same
// meta-built model (only the order of additions differs), and it ends near the host-built model's
// run (other draws of the same distribution).
TEST(GPTMetaInit, TrainsAtStage3OnTwoRanks) {
  const nlohmann::json single = run_tiny(0, 1, kSteps, "--meta");
  const nlohmann::json sharded = run_tiny(3, 2, kSteps, "--meta");
  ASSERT_FALSE(single.is_null());
  ASSERT_FALSE(sharded.is_null());
  const auto [loss_diff, weight_diff] = difference(sharded, single);
  std::printf("[gpt meta] stage 3 world 2 vs stage 0 world 1: loss rel diff %.2e, weights %.2e; loss %.4f -> %.4f\n",
              loss_diff, weight_diff, sharded["loss"].front().get<double>(), sharded["loss"].back().get<double>());
  EXPECT_LT(loss_diff, 5e-6);
  EXPECT_LT(weight_diff, 5e-6);
  const double first = sharded["loss"].front().get<double>(), last = sharded["loss"].back().get<double>();
  EXPECT_LT(last, first - 0.3);
  const nlohmann::json& host = reference("fp32");
  ASSERT_FALSE(host.is_null());
  std::printf("[gpt meta] the host-built model's run: loss %.4f -> %.4f\n", host["loss"].front().get<double>(),
              host["loss"].back().get<double>());
  EXPECT_NEAR(first, host["loss"].front().get<double>(), 0.05 * host["loss"].front().get<double>());
  EXPECT_NEAR(last, host["loss"].back().get<double>(), 0.1 * host["loss"].back().get<double>());
}

}  // namespace test_gpt_meta
