// The fused SwiGLU kernel (GPU build only) against ATen's silu(gate) * up and its autograd, on the
// GPU: the output and both gradients in float32, bfloat16 and float16, at Llama-2-7B's MLP width
// and at odd sizes, from aligned tensors (the vector path), from views one element in (the
// element-at-a-time path) and from transposed ones (copied contiguous first); and one timing line.
#include <gtest/gtest.h>

#include <cstdio>
#include <tuple>

#include <ATen/TensorOperators.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/silu.h>
#include <torch/csrc/autograd/autograd.h>

#include "support/gpu_time.hpp"
#include "support/tensor_compare.hpp"
#include "zs/models/llama/swiglu_cuda.hpp"

namespace {

using zs::testing::relative_diff;
using zs::testing::same_bits;

struct Result {
  at::Tensor out, dgate, dup;
};

Result run(const at::Tensor& gate0, const at::Tensor& up0, const at::Tensor& dout, bool fused) {
  const at::Tensor gate = gate0.detach().requires_grad_(true), up = up0.detach().requires_grad_(true);
  const at::Tensor out = fused ? zs::swiglu_fused(gate, up) : at::silu(gate) * up;
  const auto g = torch::autograd::grad({out}, {gate, up}, {dout});
  return {out.detach(), g[0], g[1]};
}

enum class Layout { kAligned, kOffsetByOne, kTransposed };
using Case = std::tuple<c10::ScalarType, int64_t, int64_t, Layout>;  // dtype, rows, cols, layout
class SwiGluCuda : public ::testing::TestWithParam<Case> {};

TEST_P(SwiGluCuda, MatchesAtenSiluTimesUp) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, rows, cols, layout] = GetParam();
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  at::Tensor gate, up;
  if (layout == Layout::kOffsetByOne) {
    gate = at::randn({rows * cols + 1}, o).mul(3).narrow(0, 1, rows * cols).view({rows, cols});
    up = at::randn({rows * cols + 1}, o).narrow(0, 1, rows * cols).view({rows, cols});
  } else if (layout == Layout::kTransposed) {
    gate = at::randn({cols, rows}, o).mul(3).t();
    up = at::randn({cols, rows}, o).t();
  } else {
    gate = at::randn({rows, cols}, o).mul(3);
    up = at::randn({rows, cols}, o);
  }
  ASSERT_TRUE(zs::fused_swiglu_applies(gate, up));
  const at::Tensor dout = at::randn({rows, cols}, o);
  const Result ours = run(gate, up, dout, true), aten = run(gate, up, dout, false);
  const bool out_same = same_bits(ours.out, aten.out), dup_same = same_bits(ours.dup, aten.dup),
             dgate_same = same_bits(ours.dgate, aten.dgate);
  const double dgate_diff = relative_diff(ours.dgate, aten.dgate);
  std::printf("[swiglu] %s [%lld x %lld]: out %s, dup %s, dgate %s (relative difference %.1e)\n",
              c10::toString(dtype), (long long)rows, (long long)cols, out_same ? "same bits" : "DIFFERS",
              dup_same ? "same bits" : "DIFFERS", dgate_same ? "same bits" : "differs", dgate_diff);
  EXPECT_TRUE(out_same);
  EXPECT_TRUE(dup_same);
  // silu's backward is one expression of exp and divisions, which two compilations may contract
  // differently: within an ulp of the dtype.
  EXPECT_LE(dgate_diff, dtype == at::kFloat ? 1e-6 : dtype == at::kHalf ? 1e-3 : 8e-3);
}

INSTANTIATE_TEST_SUITE_P(Shapes, SwiGluCuda,
                         ::testing::Values(Case{at::kBFloat16, 2048, 11008, Layout::kAligned},  // Llama-2-7B's MLP
                                           Case{at::kBFloat16, 37, 11008, Layout::kOffsetByOne},
                                           Case{at::kBFloat16, 129, 173, Layout::kAligned},  // n % 8 != 0
                                           Case{at::kBFloat16, 64, 256, Layout::kTransposed},
                                           Case{at::kHalf, 300, 512, Layout::kAligned},
                                           Case{at::kHalf, 7, 9, Layout::kOffsetByOne},
                                           Case{at::kFloat, 100, 1000, Layout::kAligned},
                                           Case{at::kFloat, 3, 5, Layout::kOffsetByOne}));

// Not a timed test: one line with both ways' forward + backward time at Llama-2-7B's MLP
// (8192 tokens x 11008, bf16).
TEST(SwiGluCudaTiming, PrintsBothPaths) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  const at::Tensor gate = at::randn({8192, 11008}, o), up = at::randn({8192, 11008}, o), dout = at::randn({8192, 11008}, o);
  const double aten = zs::testing::gpu_time_ms([&] { (void)run(gate, up, dout, false); });
  const double fused = zs::testing::gpu_time_ms([&] { (void)run(gate, up, dout, true); });
  std::printf("[swiglu] 8192 x 11008 bf16, forward + backward: ATen %.3f ms, fused %.3f ms (%.2fx)\n", aten, fused,
              aten / fused);
}

}  // namespace
