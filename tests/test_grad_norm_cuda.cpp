// The squared norm over many GPU tensors (grad_norm_cuda.hpp, GPU build only), which gradient
// clipping reads, against the sum of squares in fp64 by ATen: fp32, bf16 and fp16, more tensors
// than one launch takes, odd sizes at odd offsets, empty tensors among them; the same bits run after
// run. Then a line with its time over a GPT-2 1.5B step's bf16 gradients beside a copy.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <ATen/Context.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>

#include "support/gpu_time.hpp"
#include "zs/optim/grad_norm_cuda.hpp"

namespace {

double fp64_sum_of_squares(const std::vector<at::Tensor>& tensors) {
  double total = 0;
  for (const at::Tensor& t : tensors)
    if (t.numel()) total += t.to(at::kDouble).pow(2).sum().item<double>();
  return total;
}

TEST(SquaredNormKernel, MatchesFp64SumAcrossLaunchesSizesAndOffsets) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  for (const auto dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
    const std::string name = dtype == at::kFloat ? "fp32" : dtype == at::kBFloat16 ? "bf16" : "fp16";
    // 150 tensors (three launches of up to 64), cut from one flat buffer at every alignment.
    const at::Tensor flat = at::randn({int64_t(6) << 20}, at::TensorOptions().device(at::kCUDA)).to(dtype);
    std::vector<at::Tensor> tensors;
    int64_t offset = 0;
    for (int i = 0; i < 150; ++i) {
      const int64_t n = i % 17 == 0 ? 0 : i % 31 == 0 ? int64_t(1) << 20 : (int64_t(i) * 7919) % 20011 + i % 9;
      offset += i % 5;  // 0-4 elements skipped: every head length
      tensors.push_back(flat.narrow(0, offset, n));
      offset += n;
    }
    ASSERT_LE(offset, flat.numel());
    const at::Tensor got = zs::squared_norm_cuda(tensors);
    const double want = fp64_sum_of_squares(tensors);
    EXPECT_NEAR(got.item<double>(), want, want * 1e-5) << name;
    EXPECT_TRUE(at::equal(zs::squared_norm_cuda(tensors), got)) << name << ": not the same bits run after run";
    // Only empty tensors: zero.
    EXPECT_EQ(zs::squared_norm_cuda({flat.narrow(0, 0, 0), flat.narrow(0, 3, 0)}).item<double>(), 0.0) << name;
  }
}

TEST(SquaredNormTiming, BesideACopy) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  // GPT-2 1.5B's bf16 gradients, 48 units of 30.7M parameters.
  const int64_t n = 30'730'000, units = 48;
  const at::Tensor grads = at::randn({n * units}, at::TensorOptions().device(at::kCUDA)).to(at::kBFloat16);
  std::vector<at::Tensor> tensors;
  for (int64_t u = 0; u < units; ++u) tensors.push_back(grads.narrow(0, u * n, n));
  using zs::testing::gpu_time_ms;
  const double ours = gpu_time_ms([&] { zs::squared_norm_cuda(tensors); });
  const at::Tensor dst = at::empty_like(grads);
  const double copy = gpu_time_ms([&] { dst.copy_(grads); });
  const double bytes = double(n * units) * 2;
  std::printf("[squared norm] %.0fM bf16 elements in %lld tensors: %.3f ms (%.2f TB/s read); a copy of them %.3f ms "
              "(%.2f TB/s read + written)\n",
              double(n * units) / 1e6, static_cast<long long>(units), ours, bytes / ours / 1e9, copy,
              2 * bytes / copy / 1e9);
}

}  // namespace
