// Lion and Adagrad (the optimizers DeepSpeed's ZeRO runs besides Adam) through the whole engine on
// real CPU ranks: every ZeRO stage on 2 ranks trains as one process at stage 0; CPU offload gives
// the bits of the run without it, NVMe offload those of CPU offload; checkpoints resume exactly,
// with and without offload.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "support/equivalence.hpp"
#include "support/offload_runs.hpp"
#include "test_ckpt_support.hpp"

namespace test_optimizer_kinds {

using namespace zs::testing;

namespace {

struct Kind {
  const char* name;
  const char* optimizer;  // the config's "optimizer" member
};

// Adagrad moves an element by about lr on its first step whatever the gradient's size above eps.
// Without weight decay and with eps 1e-10, gradients that are rounding noise (~1e-9, their value
// set by the order of the additions) then move by different amounts between world sizes: the
// weights agree only to ~1e-2 while the losses agree to 1e-6. L2 decay and eps 1e-6 keep the
// comparison about ZeRO rather than about that.
const std::vector<Kind> kKinds = {
    {"Lion", R"({"type": "Lion", "params": {"lr": 0.001, "betas": [0.9, 0.99], "weight_decay": 0.1}})"},
    {"Adagrad", R"({"type": "Adagrad", "params": {"lr": 0.01, "eps": 1e-6, "lr_decay": 0.01, "weight_decay": 0.01}})"},
};

const char* kCpuOffload = R"(, "offload_optimizer": {"device": "cpu"})";

TEST(OptimizerKinds, EveryStageOnTwoRanksMatchesOneProcess) {
  for (const Kind& kind : kKinds) {
    RunSetup one;
    one.optimizer = kind.optimizer;
    const nlohmann::json reference = train(one);
    ASSERT_FALSE(reference.is_null()) << kind.name;
    EXPECT_LT(reference["loss"].back().get<double>(), reference["loss"].front().get<double>()) << kind.name;
    for (int stage : {1, 2, 3}) {
      RunSetup s = one;
      s.stage = stage;
      s.world = 2;
      s.accum = 2;
      const nlohmann::json got = train(s);
      ASSERT_FALSE(got.is_null()) << kind.name << " stage " << stage;
      const auto [loss, weights] = difference(got, reference);
      std::printf("[optimizer kinds] %s stage %d world 2: loss %.2e weights %.2e\n", kind.name, stage, loss, weights);
      // fp32: only the order of the gradient sums differs.
      EXPECT_LT(loss, 5e-6) << kind.name << " stage " << stage;
      EXPECT_LT(weights, 5e-6) << kind.name << " stage " << stage;
    }
  }
}

TEST(OptimizerKinds, OffloadGivesTheSameBits) {
  const std::string dir = temp_dir("kinds_nvme");
  for (const Kind& kind : kKinds) {
    RunSetup s;
    s.optimizer = kind.optimizer;
    s.stage = 3;
    s.world = 2;
    s.accum = 2;
    s.dtype = "bf16";
    const nlohmann::json plain = train(s);
    s.zero_extra = kCpuOffload;
    const nlohmann::json cpu = train(s);
    nlohmann::json nvme;
    {
      ScopedEnv pieces("ZS_OFFLOAD_PIECE_ELEMENTS", "48");  // many pieces a slot
      s.zero_extra = R"(, "offload_optimizer": {"device": "nvme", "nvme_path": ")" + dir + R"("})";
      nvme = train(s);
    }
    ASSERT_FALSE(plain.is_null()) << kind.name;
    ASSERT_FALSE(cpu.is_null()) << kind.name;
    ASSERT_FALSE(nvme.is_null()) << kind.name;
    EXPECT_EQ(cpu["loss"], plain["loss"]) << kind.name;
    EXPECT_EQ(cpu["params"], plain["params"]) << kind.name;
    EXPECT_EQ(nvme["loss"], cpu["loss"]) << kind.name;
    EXPECT_EQ(nvme["params"], cpu["params"]) << kind.name;
  }
  EXPECT_EQ(entries(dir), 0);
}

TEST(OptimizerKinds, CheckpointsResumeExactly) {
  for (const Kind& kind : kKinds) {
    for (const std::string offload : {"", kCpuOffload}) {
      const std::string dir = temp_dir("kinds_resume");
      RunSetup s = setup_of(2, offload.empty() ? 2 : 3, "bf16");
      s.optimizer = kind.optimizer;
      s.zero_extra = offload;
      const TinyRun second = expect_bitwise_resume(s, dir, 6, 3);
      EXPECT_FALSE(second.result.is_null()) << kind.name << offload;
    }
  }
}

}  // namespace

}  // namespace test_optimizer_kinds
