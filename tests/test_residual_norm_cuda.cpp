// The residual stream's fused kernels (GPU build only) against ATen on the GPU: h = x +
// dropout(branch) bit for bit against ATen's add of its masked scale given our mask, LayerNorm(h)
// and every gradient within the rounding of the norm's sums, in float32, bfloat16 and float16; a
// norm that hands its input on, with that input's later gradient added in its backward; masks
// that keep about 1 - p, differ call to call and repeat under the same seed.
#include <gtest/gtest.h>

#include <cstdio>
#include <tuple>

#include <ATen/TensorOperators.h>
#include <ATen/ops/_masked_scale.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/randn.h>
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/utils.h>

#include "support/tensor_compare.hpp"
#include "zs/models/layer_norm_cuda.hpp"
#include "zs/models/residual_norm_cuda.hpp"

namespace {

using zs::testing::relative_diff;
using zs::testing::same_bits;

double tolerance(c10::ScalarType dtype) { return dtype == at::kFloat ? 1e-5 : dtype == at::kHalf ? 2e-3 : 1e-2; }

struct Inputs {
  at::Tensor x, branch, weight, bias, dh, dnormed;
};

Inputs inputs(c10::ScalarType dtype, int64_t batch, int64_t seq, int64_t features, bool with_bias) {
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  return {at::randn({batch, seq, features}, o) * 2 + 1, at::randn({batch, seq, features}, o),
          at::randn({features}, o), with_bias ? at::randn({features}, o) : at::Tensor(),
          at::randn({batch, seq, features}, o), at::randn({batch, seq, features}, o)};
}

struct Result {
  at::Tensor h, normed, dx, dbranch, dweight, dbias, keep_mask;
};

// Ours through autograd; then the same draws again (same seed) for the mask.
Result ours(const Inputs& in, double p, uint64_t seed) {
  const at::Tensor x = in.x.clone().requires_grad_(true), branch = in.branch.clone().requires_grad_(true),
                   w = in.weight.clone().requires_grad_(true);
  const at::Tensor b = in.bias.defined() ? in.bias.clone().requires_grad_(true) : at::Tensor();
  EXPECT_TRUE(zs::fused_residual_applies(x, w));
  torch::manual_seed(seed);
  auto [h, normed] = zs::dropout_add_layer_norm(x, branch, p, w, b, 1e-5);
  std::vector<at::Tensor> wrt{x, branch, w};
  if (b.defined()) wrt.push_back(b);
  const auto g = torch::autograd::grad({h, normed}, wrt, {in.dh, in.dnormed});
  torch::manual_seed(seed);
  at::Tensor keep_mask;
  {
    at::NoGradGuard no_grad;
    keep_mask = zs::residual_layer_norm_forward(in.x, in.branch, p, in.weight, std::nullopt, 1e-5).keep_mask;
  }
  return {h.detach(), normed.detach(), g[0], g[1], g[2], b.defined() ? g[3] : at::Tensor(), keep_mask};
}

// ATen: x + its dropout given our mask (p > 0) or x + branch, then layer_norm, by autograd.
Result aten(const Inputs& in, double p, const at::Tensor& keep_mask) {
  const at::Tensor h = (p > 0 ? in.x + at::_masked_scale(in.branch, keep_mask, 1 / (1 - p)) : in.x + in.branch)
                           .requires_grad_(true);
  const at::Tensor w = in.weight.clone().requires_grad_(true);
  const at::Tensor b = in.bias.defined() ? in.bias.clone().requires_grad_(true) : at::Tensor();
  const at::Tensor normed = at::layer_norm(h, {w.size(0)}, w, b, 1e-5);
  std::vector<at::Tensor> wrt{h, w};
  if (b.defined()) wrt.push_back(b);
  const auto g = torch::autograd::grad({normed}, wrt, {in.dnormed});
  const at::Tensor dh = g[0] + in.dh;  // autograd's sum of h's two uses
  const at::Tensor dbranch = p > 0 ? at::_masked_scale(dh, keep_mask, 1 / (1 - p)) : dh;
  return {h.detach(), normed.detach(), dh, dbranch, g[1], b.defined() ? g[2] : at::Tensor(), keep_mask};
}

using Case = std::tuple<c10::ScalarType, int64_t, int64_t, int64_t, bool, double>;  // dtype, B, T, C, bias, p
class ResidualNormCuda : public ::testing::TestWithParam<Case> {};

TEST_P(ResidualNormCuda, MatchesAtenGivenTheMask) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, batch, seq, features, with_bias, p] = GetParam();
  const Inputs in = inputs(dtype, batch, seq, features, with_bias);
  const Result a = ours(in, p, 17);
  const Result b = aten(in, p, a.keep_mask);
  EXPECT_TRUE(same_bits(a.h, b.h)) << "h = x + dropout(branch) differs from ATen's";
  const double dn = relative_diff(a.normed, b.normed), ddx = relative_diff(a.dx, b.dx),
               ddb = relative_diff(a.dbranch, b.dbranch), ddw = relative_diff(a.dweight, b.dweight);
  std::printf("[residual norm] %s [%lld x %lld] p %.1f: relative differences normed %.1e, dx %.1e, dbranch %.1e, "
              "dweight %.1e\n",
              c10::toString(dtype), (long long)(batch * seq), (long long)features, p, dn, ddx, ddb, ddw);
  EXPECT_LE(dn, tolerance(dtype));
  EXPECT_LE(ddx, tolerance(dtype));
  EXPECT_LE(ddb, tolerance(dtype));
  EXPECT_LE(ddw, tolerance(dtype));
  if (with_bias) {
    EXPECT_LE(relative_diff(a.dbias, b.dbias), tolerance(dtype));
  }
  if (p > 0) {
    const double kept = a.keep_mask.to(at::kFloat).mean().item<double>();
    EXPECT_NEAR(kept, 1 - p, 0.02) << "fraction kept";
    const Result again = ours(in, p, 17);
    EXPECT_TRUE(same_bits(again.h, a.h) && same_bits(again.dbranch, a.dbranch)) << "same seed, other draws";
  }
}

// {x, LayerNorm(x)}: x handed on unchanged, and its gradient from later uses added in the norm's
// backward as autograd would add it.
TEST_P(ResidualNormCuda, KeepingInputAddsItsGradient) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, batch, seq, features, with_bias, p] = GetParam();
  (void)p;
  const Inputs in = inputs(dtype, batch, seq, features, with_bias);
  auto run = [&](bool fused) {
    const at::Tensor x = in.x.clone().requires_grad_(true), w = in.weight.clone().requires_grad_(true);
    const at::Tensor b = in.bias.defined() ? in.bias.clone().requires_grad_(true) : at::Tensor();
    std::vector<at::Tensor> wrt{x, w};
    if (b.defined()) wrt.push_back(b);
    Result r;
    if (fused) {
      auto [kept, normed] = zs::layer_norm_keeping_input(x, w, b, 1e-5);
      const auto g = torch::autograd::grad({kept, normed}, wrt, {in.dh, in.dnormed});
      r = {kept.detach(), normed.detach(), g[0], {}, g[1], b.defined() ? g[2] : at::Tensor(), {}};
    } else {
      const at::Tensor normed = at::layer_norm(x, {w.size(0)}, w, b, 1e-5);
      const auto g = torch::autograd::grad({normed}, wrt, {in.dnormed});
      r = {x.detach(), normed.detach(), g[0] + in.dh, {}, g[1], b.defined() ? g[2] : at::Tensor(), {}};
    }
    return r;
  };
  const Result a = run(true), b = run(false);
  EXPECT_TRUE(same_bits(a.h, in.x)) << "the input must come out unchanged";
  const double dn = relative_diff(a.normed, b.normed), ddx = relative_diff(a.dx, b.dx),
               ddw = relative_diff(a.dweight, b.dweight);
  std::printf("[residual norm] keeping input %s [%lld x %lld]: relative differences normed %.1e, dx %.1e, dweight %.1e\n",
              c10::toString(dtype), (long long)(batch * seq), (long long)features, dn, ddx, ddw);
  EXPECT_LE(dn, tolerance(dtype));
  EXPECT_LE(ddx, tolerance(dtype));
  EXPECT_LE(ddw, tolerance(dtype));
  if (with_bias) {
    EXPECT_LE(relative_diff(a.dbias, b.dbias), tolerance(dtype));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ResidualNormCuda,
                         ::testing::Values(Case{at::kBFloat16, 64, 256, 384, true, 0.2},  // shakespeare_char
                                           Case{at::kBFloat16, 64, 256, 384, true, 0.0},
                                           Case{at::kBFloat16, 8, 1024, 768, true, 0.0},  // GPT-2 124M
                                           Case{at::kBFloat16, 3, 37, 768, false, 0.1},
                                           Case{at::kFloat, 4, 100, 384, true, 0.2},
                                           Case{at::kHalf, 2, 50, 64, true, 0.5},
                                           Case{at::kFloat, 1, 7, 264, false, 0.0}));

TEST(ResidualNormCudaDropoutAdd, MatchesAtenGivenTheMask) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const Inputs in = inputs(at::kBFloat16, 16, 256, 384, false);
  const double p = 0.2;
  const at::Tensor x = in.x.clone().requires_grad_(true), branch = in.branch.clone().requires_grad_(true);
  torch::manual_seed(3);
  const at::Tensor h = zs::dropout_add(x, branch, p);
  const auto g = torch::autograd::grad({h}, {x, branch}, {in.dh});
  torch::manual_seed(3);
  at::Tensor keep_mask;
  {
    at::NoGradGuard no_grad;
    keep_mask = zs::residual_layer_norm_forward(in.x, in.branch, p, at::Tensor(), std::nullopt, 0.0).keep_mask;
  }
  EXPECT_TRUE(same_bits(h.detach(), in.x + at::_masked_scale(in.branch, keep_mask, 1 / (1 - p))));
  EXPECT_TRUE(same_bits(g[0], in.dh));
  EXPECT_TRUE(same_bits(g[1], at::_masked_scale(in.dh, keep_mask, 1 / (1 - p))));
}

TEST(ResidualNormCudaDropoutAdd, MasksDifferCallToCall) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const Inputs in = inputs(at::kBFloat16, 16, 256, 384, false);
  at::NoGradGuard no_grad;
  const at::Tensor first = zs::residual_layer_norm_forward(in.x, in.branch, 0.2, at::Tensor(), std::nullopt, 0.0).keep_mask;
  const at::Tensor second = zs::residual_layer_norm_forward(in.x, in.branch, 0.2, at::Tensor(), std::nullopt, 0.0).keep_mask;
  const double same = first.eq(second).to(at::kFloat).mean().item<double>();
  EXPECT_NEAR(same, 0.8 * 0.8 + 0.2 * 0.2, 0.01) << "two calls' masks should be independent";
}

}  // namespace
