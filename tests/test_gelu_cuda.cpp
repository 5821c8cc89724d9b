// The GPT's GELU by table (models/gpt/gelu_cuda.hpp) against ATen's kernels on the GPU: for every
// one of the 65,536 bfloat16 inputs (in the table and outside it: zero, the tiny, large, infinite, NaN), the
// output and the gradient of random incoming gradients are ATen's bit for bit, through the vector
// path with and without a tail, the unaligned path and an odd length; through autograd as at::gelu's; and one timing line
// at the GPT-2 1.5B MLP's shape. GPU build only.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdint>
#include <vector>

#include <ATen/core/grad_mode.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/gelu_backward.h>
#include <ATen/ops/isnan.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>
#include <torch/csrc/autograd/autograd.h>

#include "support/gpu_time.hpp"
#include "support/tensor_compare.hpp"
#include "zs/models/gpt/gelu_cuda.hpp"

namespace {

using zs::testing::same_bits;

// Bit for bit, NaN for NaN (the NaN's payload aside).
void expect_same(const at::Tensor& ours, const at::Tensor& aten, const char* what) {
  const at::Tensor nan_ours = at::isnan(ours.to(at::kFloat)), nan_aten = at::isnan(aten.to(at::kFloat));
  EXPECT_TRUE(same_bits(nan_ours, nan_aten)) << what << ": NaN in different places";
  const at::Tensor zero = at::zeros_like(ours);
  EXPECT_TRUE(same_bits(at::where(nan_ours, zero, ours), at::where(nan_aten, zero, aten))) << what;
}

// Every bfloat16 value once, on the GPU.
at::Tensor all_bfloat16_values() {
  return at::arange(-32768, 32768, at::TensorOptions().dtype(at::kInt)).to(at::kShort).view(at::kBFloat16).to(at::kCUDA);
}

TEST(GeluByTable, EveryBfloat16InputGivesAtensBits) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const at::Tensor x = all_bfloat16_values();
  ASSERT_TRUE(zs::gelu_by_table_applies(x, "none"));
  EXPECT_FALSE(zs::gelu_by_table_applies(x, "tanh"));
  EXPECT_FALSE(zs::gelu_by_table_applies(x.to(at::kFloat), "none"));
  at::NoGradGuard no_grad;
  for (int draw = 0; draw < 3; ++draw) {
    const at::Tensor dy = at::randn(x.sizes(), x.options()) * (draw == 2 ? 1e4 : 1.0);
    // 65,536 (vectors), vectors and a tail, one element in (no 16-byte alignment), an odd length.
    for (const auto& [begin, length] :
         std::vector<std::pair<int64_t, int64_t>>{{0, 65536}, {0, 40001}, {1, 65535}, {3, 40001}}) {
      const at::Tensor xs = x.narrow(0, begin, length), dys = dy.narrow(0, begin, length);
      expect_same(zs::gelu_by_table(xs), at::gelu(xs), "output");
      // The gradient through the function's backward: autograd on a leaf copy.
      const at::Tensor leaf = xs.clone().requires_grad_(true);
      at::Tensor ours_dx;
      {
        at::AutoGradMode grad(true);
        ours_dx = torch::autograd::grad({zs::gelu_by_table(leaf)}, {leaf}, {dys})[0];
      }
      expect_same(ours_dx, at::gelu_backward(dys, xs), "gradient");
    }
  }
}

TEST(GeluByTable, AutogradMatchesAtenGelu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  const at::Tensor x0 = at::randn({4, 257, 1000}, o) * 3, dy = at::randn({4, 257, 1000}, o);
  const at::Tensor a = x0.clone().requires_grad_(true), b = x0.clone().requires_grad_(true);
  const at::Tensor ya = zs::gelu_by_table(a), yb = at::gelu(b);
  EXPECT_TRUE(same_bits(ya, yb));
  EXPECT_TRUE(same_bits(torch::autograd::grad({ya}, {a}, {dy})[0], torch::autograd::grad({yb}, {b}, {dy})[0]));
}

// Not a timed test: one line with both ways' forward and backward at GPT-2 1.5B's MLP shape.
TEST(GeluByTableTiming, PrintsBothWays) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  const at::Tensor x = at::randn({8192, 6400}, o), dy = at::randn({8192, 6400}, o);
  at::NoGradGuard no_grad;
  const double aten_f = zs::testing::gpu_time_ms([&] { (void)at::gelu(x); });
  const double ours_f = zs::testing::gpu_time_ms([&] { (void)zs::gelu_by_table(x); });
  const double aten_b = zs::testing::gpu_time_ms([&] { (void)at::gelu_backward(dy, x); });
  const at::Tensor leaf = x.clone().requires_grad_(true);
  const double ours_b = zs::testing::gpu_time_ms([&] {
    at::AutoGradMode grad(true);
    (void)torch::autograd::grad({zs::gelu_by_table(leaf)}, {leaf}, {dy});
  });
  const double gb = double(x.numel()) * 2 / 1e9;
  std::printf("[gelu] [8192 x 6400] bf16: forward ATen %.3f ms, ours %.3f ms (%.0f GB/s); backward ATen %.3f ms, "
              "ours (with its forward) %.3f ms\n",
              aten_f, ours_f, 2 * gb / ours_f * 1e3, aten_b, ours_b);
}

}  // namespace
