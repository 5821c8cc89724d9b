// zs::BatchNorm2d: BatchNorm2d's numerics unconverted, and as SyncBatchNorm across real ranks the
// same outputs, gradients and running statistics as one BatchNorm2d over the whole batch
// (tests/progs/sync_bn_probe.cpp).
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include <ATen/ops/randn.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/utils.h>

#include "support/run_ranks.hpp"
#include "zs/models/cnn/batch_norm.hpp"
#include "zs/zero/activation_checkpoint.hpp"

namespace test_batch_norm {

using zs::testing::bin;

TEST(BatchNorm, UnconvertedIsTorchBatchNorm) {
  torch::manual_seed(0);
  zs::BatchNorm2d ours(torch::nn::BatchNorm2dOptions(3));
  torch::nn::BatchNorm2d theirs(torch::nn::BatchNorm2dOptions(3));
  const at::Tensor x = at::randn({4, 3, 5, 5});
  EXPECT_TRUE(ours->forward(x).equal(theirs->forward(x)));
  EXPECT_TRUE(ours->running_var.equal(theirs->running_var));
  EXPECT_FALSE(ours->synchronized());
}

// On one rank, SyncBatchNorm's own arithmetic (sums and sums of squares) against BatchNorm2d's.
TEST(BatchNorm, SynchronizedOnOneRankMatchesBatchNorm) {
  torch::manual_seed(0);
  zs::BatchNorm2d synced(torch::nn::BatchNorm2dOptions(3)), plain(torch::nn::BatchNorm2dOptions(3));
  EXPECT_EQ(zs::convert_sync_batchnorm(*synced, [](const at::Tensor& t) { return t; }), 1);
  EXPECT_TRUE(synced->synchronized());
  const at::Tensor x = at::randn({4, 3, 5, 5}) * 3 + 2;
  const at::Tensor xs = x.clone().requires_grad_(true), xp = x.clone().requires_grad_(true);
  const at::Tensor up = at::randn({4, 3, 5, 5});
  (synced->forward(xs) * up).sum().backward();
  (plain->forward(xp) * up).sum().backward();
  EXPECT_TRUE(xs.grad().allclose(xp.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(synced->weight.grad().allclose(plain->weight.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(synced->running_mean.allclose(plain->running_mean, 1e-5, 1e-6));
  EXPECT_TRUE(synced->running_var.allclose(plain->running_var, 1e-5, 1e-6));
  synced->eval();
  plain->eval();
  EXPECT_TRUE(synced->forward(x).allclose(plain->forward(x), 1e-5, 1e-6));  // eval: running statistics
}

// Activation checkpointing recomputes the forward in backward: the same gradients, and the running
// statistics updated once per batch (not twice), synchronized or not.
TEST(BatchNorm, CheckpointedRecomputeUpdatesRunningStatisticsOnce) {
  for (bool sync : {false, true}) {
    torch::manual_seed(0);
    zs::BatchNorm2d checkpointed(torch::nn::BatchNorm2dOptions(3)), plain(torch::nn::BatchNorm2dOptions(3));
    if (sync) {
      zs::convert_sync_batchnorm(*checkpointed, [](const at::Tensor& t) { return t; });
      zs::convert_sync_batchnorm(*plain, [](const at::Tensor& t) { return t; });
    }
    const at::Tensor x = at::randn({4, 3, 5, 5}) * 2 + 1, up = at::randn({4, 3, 5, 5});
    const at::Tensor xc = x.clone().requires_grad_(true), xp = x.clone().requires_grad_(true);
    (zs::checkpointed([&](const at::Tensor& in) { return checkpointed->forward(in); }, xc) * up).sum().backward();
    (plain->forward(xp) * up).sum().backward();
    EXPECT_EQ(checkpointed->num_batches_tracked.item<int64_t>(), 1) << "sync " << sync;
    EXPECT_TRUE(checkpointed->running_mean.allclose(plain->running_mean)) << "sync " << sync;
    EXPECT_TRUE(checkpointed->running_var.allclose(plain->running_var)) << "sync " << sync;
    EXPECT_TRUE(xc.grad().allclose(xp.grad(), 1e-5, 1e-6)) << "sync " << sync;
    EXPECT_TRUE(checkpointed->weight.grad().allclose(plain->weight.grad(), 1e-5, 1e-6)) << "sync " << sync;
  }
}

class SyncBatchNormRanks : public ::testing::TestWithParam<int> {};

TEST_P(SyncBatchNormRanks, MatchesOneBatchNormOverTheWholeBatch) {
  const auto r = zs::testing::run_command(bin("zsrun") + " --num_procs " + std::to_string(GetParam()) + " " +
                                          bin("tests/sync_bn_probe"), 120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m,
                                std::regex("output (\\S+) grad_input (\\S+) grad_weight (\\S+) grad_bias (\\S+) "
                                           "running_mean (\\S+) running_var (\\S+) batches_tracked 3/3")))
      << r.output;
  for (int i = 1; i <= 6; ++i) EXPECT_LT(std::stod(m[i].str()), 2e-5) << m[0].str();
  std::printf("%s\n", m[0].str().c_str());
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, SyncBatchNormRanks, ::testing::Values(1, 2, 3));

}  // namespace test_batch_norm
