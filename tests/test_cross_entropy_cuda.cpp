// The fused cross-entropy (GPU build only) against ATen's fp32 cross-entropy on the GPU: the loss
// and the logits' gradient within fp32 rounding of the sums' order (the gradient then rounded to
// the logits' dtype), with ignored targets, vocabularies that fill 16-byte vectors and one that
// does not, in float32, bfloat16 and float16; the same bits run after run; all targets ignored
// gives NaN as ATen's does; and one timing line at GPT-2's vocabulary.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <tuple>

#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <torch/csrc/autograd/autograd.h>

#include "support/gpu_time.hpp"
#include "support/tensor_compare.hpp"
#include "zs/models/cross_entropy_cuda.hpp"

namespace {

using zs::testing::same_bits;
using zs::testing::relative_diff;

constexpr int64_t kIgnore = -1;



std::pair<at::Tensor, at::Tensor> loss_and_grad(const at::Tensor& logits0, const at::Tensor& targets, bool fused) {
  const at::Tensor logits = logits0.clone().requires_grad_(true);
  at::Tensor loss;
  if (fused) {
    EXPECT_TRUE(zs::fused_cross_entropy_applies(logits, targets));
    loss = zs::cross_entropy_fused(logits, targets, kIgnore);
  } else {
    loss = at::cross_entropy_loss(logits.to(at::kFloat), targets, {}, at::Reduction::Mean, kIgnore);
  }
  const at::Tensor grad = torch::autograd::grad({loss * 3.0}, {logits})[0];  // an incoming gradient of 3
  return {loss.detach(), grad};
}

using Case = std::tuple<c10::ScalarType, int64_t, int64_t>;  // dtype, rows, vocab
class CrossEntropyCuda : public ::testing::TestWithParam<Case> {};

TEST_P(CrossEntropyCuda, MatchesAtenWithinRounding) {
  const auto [dtype, rows, vocab] = GetParam();
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto opts = at::TensorOptions().device(at::kCUDA);
  at::manual_seed(5);
  const at::Tensor logits = (at::randn({rows, vocab}, opts.dtype(at::kFloat)) * 4).to(dtype);
  at::Tensor targets = at::randint(vocab, {rows}, opts.dtype(at::kLong));
  if (rows > 4) targets.slice(0, 0, rows, 5).fill_(kIgnore);  // every fifth row ignored
  const auto [loss, grad] = loss_and_grad(logits, targets, true);
  const auto [ref_loss, ref_grad] = loss_and_grad(logits, targets, false);
  const double dl = relative_diff(loss, ref_loss), dg = relative_diff(grad, ref_grad);
  EXPECT_LT(dl, 1e-5);
  EXPECT_LT(dg, dtype == at::kFloat ? 1e-5 : dtype == at::kHalf ? 2e-3 : 1e-2);
  const auto [loss2, grad2] = loss_and_grad(logits, targets, true);
  EXPECT_TRUE(same_bits(loss2, loss) && same_bits(grad2, grad)) << "not deterministic";
  std::printf("[cross entropy] %s [%lld, %lld]: loss %.6f (ATen %.6f), relative differences loss %.1e, gradient %.1e\n",
              c10::toString(dtype), static_cast<long long>(rows), static_cast<long long>(vocab), loss.item<double>(),
              ref_loss.item<double>(), dl, dg);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CrossEntropyCuda,
                         ::testing::Combine(::testing::Values(at::kFloat, at::kBFloat16, at::kHalf),
                                            ::testing::Values(int64_t(1), int64_t(7), int64_t(4096)),
                                            ::testing::Values(int64_t(65), int64_t(1000), int64_t(32000),
                                                              int64_t(50304))));

TEST(CrossEntropyCuda, AllTargetsIgnoredIsNanAsInAten) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto opts = at::TensorOptions().device(at::kCUDA);
  const at::Tensor logits = at::randn({4, 64}, opts.dtype(at::kBFloat16));
  const at::Tensor targets = at::full({4}, kIgnore, opts.dtype(at::kLong));
  const auto [loss, grad] = loss_and_grad(logits, targets, true);
  const auto [ref_loss, ref_grad] = loss_and_grad(logits, targets, false);
  EXPECT_TRUE(std::isnan(loss.item<double>()));
  EXPECT_TRUE(std::isnan(ref_loss.item<double>()));
  EXPECT_EQ(grad.abs().max().item<double>(), 0.0) << "ignored rows get no gradient";
}

// Not a timed test: one line with both ways' time, forward and backward, at GPT-2's vocabulary.
TEST(CrossEntropyCudaTiming, PrintsBothPaths) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto opts = at::TensorOptions().device(at::kCUDA);
  const int64_t rows = 8192, vocab = 50304;
  const at::Tensor logits = at::randn({rows, vocab}, opts.dtype(at::kBFloat16));
  const at::Tensor targets = at::randint(vocab, {rows}, opts.dtype(at::kLong));
  const auto time_ms = [&](bool fused) {
    return zs::testing::gpu_time_ms([&] { loss_and_grad(logits, targets, fused); });
  };
  const double aten = time_ms(false), fused = time_ms(true);
  std::printf("[cross entropy] forward + backward of [%lld, %lld] bf16 logits (incl. a clone of them): ATen on fp32 "
              "%.2f ms, fused %.2f ms (%.2fx)\n",
              static_cast<long long>(rows), static_cast<long long>(vocab), aten, fused, aten / fused);
}

}  // namespace
