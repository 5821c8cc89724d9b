// Linear-with-bias, LayerNorm and the residual add + LayerNorm with our column-sum gradients and
// LayerNorm kernels (GPU build only) against ATen's autograd on the GPU: the linear's output and
// input gradient bit for bit, the rest within fp32 rounding of the sums' order (then rounded to the
// dtype), in float32, bfloat16 and float16, at GPT shapes and odd row counts; the same bits run
// after run; and one timing line per shape.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <tuple>
#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/ops/_fused_rms_norm.h>
#include <ATen/ops/full.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/randn.h>
#include <torch/csrc/autograd/autograd.h>

#include "support/gpu_time.hpp"
#include "support/tensor_compare.hpp"
#include "zs/base/grad_place.hpp"
#include "zs/models/norm_bias_cuda.hpp"

namespace {

using zs::testing::relative_diff;
using zs::testing::same_bits;

// Parameter gradients: fp32 sums in another order, rounded once to the dtype.
double tolerance(c10::ScalarType dtype) { return dtype == at::kFloat ? 1e-5 : dtype == at::kHalf ? 2e-3 : 1e-2; }

struct Grads {
  at::Tensor out, dx, dweight, dbias;
};

// rows x features input, an incoming gradient `dy`; `fused` picks our function or ATen's.
Grads linear_grads(const at::Tensor& x0, const at::Tensor& w0, const at::Tensor& b0, const at::Tensor& dy, bool fused) {
  const at::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true),
                   b = b0.clone().requires_grad_(true);
  if (fused) {
    EXPECT_TRUE(zs::fused_norm_bias_applies(x, w));
  }
  const at::Tensor out = fused ? zs::linear_cuda(x, w, b) : at::linear(x, w, b);
  const auto g = torch::autograd::grad({out}, {x, w, b}, {dy});
  return {out.detach(), g[0], g[1], g[2]};
}

Grads layer_norm_grads(const at::Tensor& x0, const at::Tensor& w0, const at::Tensor& b0, const at::Tensor& dy, bool fused) {
  const at::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
  const at::Tensor b = b0.defined() ? b0.clone().requires_grad_(true) : at::Tensor();
  const at::Tensor out = fused ? zs::layer_norm_fused_param_grads(x, w, b, 1e-5) : at::layer_norm(x, {w.size(0)}, w, b, 1e-5);
  std::vector<at::Tensor> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  const auto g = torch::autograd::grad({out}, inputs, {dy});
  return {out.detach(), g[0], g[1], b.defined() ? g[2] : at::Tensor()};
}

using Case = std::tuple<c10::ScalarType, int64_t, int64_t, int64_t>;  // dtype, batch, seq, features
class NormBiasCuda : public ::testing::TestWithParam<Case> {};

TEST_P(NormBiasCuda, LinearBiasGradientMatchesAten) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, batch, seq, in] = GetParam();
  const int64_t out = 3 * in;
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const at::Tensor x = at::randn({batch, seq, in}, o), w = at::randn({out, in}, o) * 0.05, b = at::randn({out}, o);
  const at::Tensor dy = at::randn({batch, seq, out}, o);
  const Grads ours = linear_grads(x, w, b, dy, true), aten = linear_grads(x, w, b, dy, false);
  EXPECT_TRUE(same_bits(ours.out, aten.out));
  const double ddx = relative_diff(ours.dx, aten.dx), ddw = relative_diff(ours.dweight, aten.dweight),
               ddb = relative_diff(ours.dbias, aten.dbias);
  std::printf("[norm bias] linear %s [%lld x %lld] -> %lld: relative differences dx %.1e, dweight %.1e, dbias %.1e\n",
              c10::toString(dtype), (long long)(batch * seq), (long long)in, (long long)out, ddx, ddw, ddb);
  EXPECT_LE(ddx, tolerance(dtype));
  EXPECT_LE(ddw, tolerance(dtype));
  EXPECT_LE(ddb, tolerance(dtype));
  EXPECT_TRUE(same_bits(ours.dbias, linear_grads(x, w, b, dy, true).dbias)) << "not the same bits run after run";
}

TEST_P(NormBiasCuda, LinearWithoutBiasMatchesAten) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, batch, seq, in] = GetParam();
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const at::Tensor x0 = at::randn({batch, seq, in}, o), w0 = at::randn({2 * in, in}, o) * 0.05;
  const at::Tensor dy = at::randn({batch, seq, 2 * in}, o);
  std::vector<at::Tensor> g[2];
  at::Tensor out[2];
  for (const bool fused : {true, false}) {
    const at::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
    out[fused] = fused ? zs::linear_cuda(x, w, at::Tensor()) : at::linear(x, w);
    g[fused] = torch::autograd::grad({out[fused]}, {x, w}, {dy});
  }
  EXPECT_TRUE(same_bits(out[1], out[0]));
  EXPECT_LE(relative_diff(g[1][0], g[0][0]), tolerance(dtype));
  EXPECT_LE(relative_diff(g[1][1], g[0][1]), tolerance(dtype));
  EXPECT_TRUE(g[1][1].is_contiguous());
}

// Three linears of one input (q, k, v) as one node: the same outputs and parameter gradients as
// separate linear_cuda calls, bit for bit; the input's gradient summed inside the GEMMs, within
// rounding of the separate calls' (whose autograd rounds each branch, then adds).
TEST_P(NormBiasCuda, SharedInputLinearsMatchSeparateLinears) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, batch, seq, in] = GetParam();
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const std::vector<int64_t> outs{2 * in, in, in};  // as grouped-query attention's q, k, v
  const at::Tensor x0 = at::randn({batch, seq, in}, o);
  std::vector<at::Tensor> w0, b0, dy;
  for (int64_t n : outs) {
    w0.push_back(at::randn({n, in}, o) * 0.05);
    b0.push_back(at::randn({n}, o));
    dy.push_back(at::randn({batch, seq, n}, o));
  }
  for (const bool biased : {true, false}) {
    std::vector<at::Tensor> out[2], g[2];
    for (const bool shared : {true, false}) {
      const at::Tensor x = x0.clone().requires_grad_(true);
      std::vector<at::Tensor> w, b, inputs{x};
      for (size_t k = 0; k < outs.size(); ++k) {
        w.push_back(w0[k].clone().requires_grad_(true));
        inputs.push_back(w.back());
        if (biased) {
          b.push_back(b0[k].clone().requires_grad_(true));
          inputs.push_back(b.back());
        }
      }
      if (shared) {
        out[shared] = zs::linears_cuda(x, w, b);
      } else {
        for (size_t k = 0; k < outs.size(); ++k) out[shared].push_back(zs::linear_cuda(x, w[k], biased ? b[k] : at::Tensor()));
      }
      g[shared] = torch::autograd::grad(out[shared], inputs, dy);
    }
    for (size_t k = 0; k < outs.size(); ++k) EXPECT_TRUE(same_bits(out[1][k], out[0][k])) << "output " << k;
    for (size_t i = 1; i < g[1].size(); ++i) EXPECT_TRUE(same_bits(g[1][i], g[0][i])) << "parameter gradient " << i;
    const double ddx = relative_diff(g[1][0], g[0][0]);
    std::printf("[norm bias] 3 linears of one input, %s [%lld x %lld]%s: dx relative difference %.1e\n",
                c10::toString(dtype), (long long)(batch * seq), (long long)in, biased ? ", biased" : "", ddx);
    EXPECT_LE(ddx, tolerance(dtype));
  }
}

// RMSNorm with the residual add as one node: h = x + y as ATen's add rounds it (without y, h is x),
// z and the gradients, with a gradient arriving at h too (the residual stream's), within rounding
// of ATen's fused RMSNorm; the same bits run after run.
TEST_P(NormBiasCuda, AddRmsNormMatchesAten) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, batch, seq, in] = GetParam();
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const at::Tensor x0 = at::randn({batch, seq, in}, o), y0 = at::randn({batch, seq, in}, o);
  const at::Tensor w0 = 1 + 0.1 * at::randn({in}, o), dz = at::randn({batch, seq, in}, o), dh = at::randn({batch, seq, in}, o);
  for (const bool with_y : {true, false}) {
    auto run = [&](bool fused) {
      const at::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
      const at::Tensor y = with_y ? y0.clone().requires_grad_(true) : at::Tensor();
      at::Tensor h, z;
      if (fused) {
        EXPECT_TRUE(zs::fused_rms_norm_applies(x, y, w));
        std::tie(h, z) = zs::add_rms_norm_fused(x, y, w, 1e-5);
      } else {
        h = with_y ? x + y : x.view_as(x);
        z = std::get<0>(at::_fused_rms_norm(h, {in}, w, 1e-5));
      }
      std::vector<at::Tensor> inputs{x, w};
      if (with_y) inputs.push_back(y);
      std::vector<at::Tensor> out{h.detach(), z.detach()};
      for (const at::Tensor& g : torch::autograd::grad({h, z}, inputs, {dh, dz})) out.push_back(g);
      return out;  // h, z, dx, dw (, dy)
    };
    const auto ours = run(true), aten = run(false);
    EXPECT_TRUE(same_bits(ours[0], aten[0]));
    const double dz_diff = relative_diff(ours[1], aten[1]), dx_diff = relative_diff(ours[2], aten[2]),
                 dw_diff = relative_diff(ours[3], aten[3]);
    std::printf("[norm bias] rms norm%s %s [%lld x %lld]: relative differences z %.1e, dx %.1e, dweight %.1e\n",
                with_y ? " + add" : "", c10::toString(dtype), (long long)(batch * seq), (long long)in, dz_diff, dx_diff,
                dw_diff);
    EXPECT_LE(dz_diff, tolerance(dtype));
    EXPECT_LE(dx_diff, tolerance(dtype));
    EXPECT_LE(dw_diff, tolerance(dtype));
    if (with_y) {
      EXPECT_TRUE(same_bits(ours[4], ours[2])) << "x and y get the same gradient";
    }
    const auto again = run(true);
    for (size_t i = 1; i < ours.size(); ++i) EXPECT_TRUE(same_bits(again[i], ours[i])) << "not the same bits run after run: " << i;
  }
}

// A consumer (the engine's gradient buckets) offers places: the weight's GEMM and the bias's and
// LayerNorm's column sums write there, the same bits as into memory of their own, once per offer.
TEST_P(NormBiasCuda, ParameterGradientsLandInTheOfferedPlaces) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, batch, seq, in] = GetParam();
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const at::Tensor x = at::randn({batch, seq, in}, o), w0 = at::randn({in, in}, o) * 0.05, b0 = at::randn({in}, o);
  const at::Tensor lw0 = at::randn({in}, o), lb0 = at::randn({in}, o), dy = at::randn({batch, seq, in}, o);
  auto run = [&](bool offer) {
    const at::Tensor w = w0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
    const at::Tensor lw = lw0.clone().requires_grad_(true), lb = lb0.clone().requires_grad_(true);
    at::Tensor places = at::full({in * in + 3 * in}, 7.0, o);  // one staging buffer, filled with junk
    std::vector<std::pair<at::Tensor, at::Tensor>> offered{{w, places.narrow(0, 0, in * in).view({in, in})},
                                                           {b, places.narrow(0, in * in, in)},
                                                           {lw, places.narrow(0, in * in + in, in)},
                                                           {lb, places.narrow(0, in * in + 2 * in, in)}};
    int taken = 0;
    if (offer)
      for (auto& [param, place] : offered)
        zs::offer_grad_place(param, [&taken, place = place] { ++taken; return place; });
    const at::Tensor y = zs::layer_norm_fused_param_grads(zs::linear_cuda(x, w, b), lw, lb, 1e-5);
    const auto g = torch::autograd::grad({y}, {w, b, lw, lb}, {dy});
    for (auto& [param, place] : offered) zs::withdraw_grad_place(param);
    if (offer) {
      EXPECT_EQ(taken, 4);
      for (size_t i = 0; i < g.size(); ++i)
        EXPECT_EQ(g[i].const_data_ptr(), offered[i].second.const_data_ptr()) << "gradient " << i << " not in its place";
    }
    return g;
  };
  const auto placed = run(true), own = run(false);
  for (size_t i = 0; i < placed.size(); ++i) EXPECT_TRUE(same_bits(placed[i], own[i])) << "gradient " << i;
}

TEST_P(NormBiasCuda, LayerNormParameterGradientsMatchAten) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, batch, seq, c] = GetParam();
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const at::Tensor x = at::randn({batch, seq, c}, o) * 3 + 1, w = at::randn({c}, o), b = at::randn({c}, o);
  const at::Tensor dy = at::randn({batch, seq, c}, o);
  for (const bool with_bias : {true, false}) {
    const at::Tensor bias = with_bias ? b : at::Tensor();
    const Grads ours = layer_norm_grads(x, w, bias, dy, true), aten = layer_norm_grads(x, w, bias, dy, false);
    // Our forward kernel (up to 2,048 features) takes the mean and variance in another order.
    const double dout = relative_diff(ours.out, aten.out), ddx = relative_diff(ours.dx, aten.dx);
    const double ddw = relative_diff(ours.dweight, aten.dweight);
    const double ddb = with_bias ? relative_diff(ours.dbias, aten.dbias) : 0.0;
    std::printf("[norm bias] layer norm %s [%lld x %lld]%s: relative differences out %.1e, dx %.1e, dweight %.1e, "
                "dbias %.1e\n",
                c10::toString(dtype), (long long)(batch * seq), (long long)c, with_bias ? "" : " (no bias)", dout, ddx,
                ddw, ddb);
    EXPECT_LE(dout, tolerance(dtype));
    EXPECT_LE(ddx, tolerance(dtype));
    EXPECT_LE(ddw, tolerance(dtype));
    EXPECT_LE(ddb, tolerance(dtype));
    EXPECT_EQ(ours.dbias.defined(), with_bias);
    EXPECT_TRUE(same_bits(ours.dweight, layer_norm_grads(x, w, bias, dy, true).dweight)) << "not the same bits run after run";
  }
}

// h = x + y and z = LayerNorm(h) as one node against ATen's add and layer_norm: h bit for bit (the
// sum rounded once either way), z and every gradient within the tolerances above (x's and y's
// gradient is one tensor: the norm's part and h's own gradient added before one rounding).
TEST_P(NormBiasCuda, AddLayerNormMatchesAten) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, batch, seq, c] = GetParam();
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const at::Tensor x0 = at::randn({batch, seq, c}, o) * 3 + 1, y0 = at::randn({batch, seq, c}, o);
  const at::Tensor w0 = at::randn({c}, o), b0 = at::randn({c}, o);
  const at::Tensor dh = at::randn({batch, seq, c}, o), dz = at::randn({batch, seq, c}, o);
  auto run = [&](bool fused) {
    const at::Tensor x = x0.clone().requires_grad_(true), y = y0.clone().requires_grad_(true),
                     w = w0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
    at::Tensor h, z;
    if (fused) {
      EXPECT_TRUE(zs::fused_norm_bias_applies(x, w));
      std::tie(h, z) = zs::add_layer_norm_fused(x, y, w, b, 1e-5);
    } else {
      h = x + y;
      z = at::layer_norm(h, {c}, w, b, 1e-5);
    }
    const auto g = torch::autograd::grad({h, z}, {x, y, w, b}, {dh, dz});
    return std::vector<at::Tensor>{h.detach(), z.detach(), g[0], g[1], g[2], g[3]};
  };
  const auto ours = run(true), aten = run(false);
  EXPECT_TRUE(same_bits(ours[0], aten[0])) << "h = x + y";
  const char* names[] = {"h", "z", "dx", "dy", "dweight", "dbias"};
  for (size_t i = 1; i < ours.size(); ++i) {
    const double d = relative_diff(ours[i], aten[i]);
    std::printf("[norm bias] add + layer norm %s [%lld x %lld]: relative difference %s %.1e\n", c10::toString(dtype),
                (long long)(batch * seq), (long long)c, names[i], d);
    EXPECT_LE(d, tolerance(dtype)) << names[i];
  }
  EXPECT_TRUE(same_bits(ours[2], ours[3])) << "x and y share h's gradient";
}

// Without an addend the node hands x on as h and adds h's gradient (the residual stream's) to the
// norm's input gradient inside the kernel: against ATen's norm with autograd summing the two; with
// and without a bias, and with the weight frozen (the node's inputs then count differently).
TEST_P(NormBiasCuda, LayerNormHandingItsInputOnMatchesAten) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto [dtype, batch, seq, c] = GetParam();
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const at::Tensor x0 = at::randn({batch, seq, c}, o) * 3 + 1, w0 = at::randn({c}, o), b0 = at::randn({c}, o);
  const at::Tensor dh = at::randn({batch, seq, c}, o), dz = at::randn({batch, seq, c}, o);
  for (const auto& [with_bias, train_weight] : std::vector<std::pair<bool, bool>>{{true, true}, {false, true}, {true, false}}) {
    // Returns h, z and the gradients of x, then the weight (when trained), then the bias (when there is one).
    auto run = [&, with_bias = with_bias, train_weight = train_weight](bool fused) {
      const at::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(train_weight);
      const at::Tensor b = with_bias ? b0.clone().requires_grad_(true) : at::Tensor();
      at::Tensor h = x, z;
      if (fused) std::tie(h, z) = zs::add_layer_norm_fused(x, at::Tensor(), w, b, 1e-5);
      else z = at::layer_norm(x, {c}, w, b, 1e-5);
      std::vector<at::Tensor> inputs{x};
      if (train_weight) inputs.push_back(w);
      if (with_bias) inputs.push_back(b);
      std::vector<at::Tensor> out{h.detach(), z.detach()};
      for (const at::Tensor& g : torch::autograd::grad({h, z}, inputs, {dh, dz})) out.push_back(g);
      return out;
    };
    const auto ours = run(true), aten = run(false);
    ASSERT_EQ(ours.size(), aten.size());
    EXPECT_TRUE(same_bits(ours[0], aten[0])) << "h is x";
    for (size_t i = 1; i < ours.size(); ++i) {
      const double d = relative_diff(ours[i], aten[i]);
      std::printf("[norm bias] layer norm handing x on %s [%lld x %lld]%s%s: relative difference of output %zu %.1e\n",
                  c10::toString(dtype), (long long)(batch * seq), (long long)c, with_bias ? "" : ", no bias",
                  train_weight ? "" : ", weight frozen", i, d);
      EXPECT_LE(d, tolerance(dtype)) << "output " << i << (with_bias ? "" : ", no bias")
                                     << (train_weight ? "" : ", weight frozen");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, NormBiasCuda,
                         ::testing::Values(Case{at::kBFloat16, 64, 256, 384},   // shakespeare_char
                                           Case{at::kBFloat16, 8, 1024, 768},   // GPT-2 124M
                                           Case{at::kBFloat16, 3, 37, 1600},    // odd rows, GPT-2 1.5B width
                                           Case{at::kHalf, 4, 100, 512}, Case{at::kFloat, 2, 129, 256},
                                           Case{at::kFloat, 1, 5, 8},
                                           Case{at::kBFloat16, 2, 16, 4096}));  // past our LayerNorm kernel: ATen's forward

// Not a timed test: one line per shape with both ways' backward time (bias gradient alone, and
// LayerNorm's forward and every gradient).
TEST(NormBiasCudaTiming, PrintsBothPaths) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto o = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{16384, 384}, {16384, 1536}, {8192, 768}, {8192, 1600}, {8192, 6400}}) {
    const at::Tensor dy = at::randn({rows, cols}, o), x = at::randn({rows, cols}, o), w = at::randn({cols}, o);
    const auto time_ms = [](const std::function<void()>& fn) { return zs::testing::gpu_time_ms(fn, 20); };
    // A linear [rows, 64] -> cols whose bias alone wants a gradient: the forward GEMM and the sums.
    const at::Tensor xs = at::randn({rows, 64}, o), ws = at::randn({cols, 64}, o), bs = w.clone().requires_grad_(true);
    const double aten_bias = time_ms([&] { (void)torch::autograd::grad({at::linear(xs, ws, bs)}, {bs}, {dy}); });
    const double ours_bias = time_ms([&] { (void)torch::autograd::grad({zs::linear_cuda(xs, ws, bs)}, {bs}, {dy}); });
    const at::Tensor xr = x.clone().requires_grad_(true), wr = w.clone().requires_grad_(true);
    const double aten_ln = time_ms([&] {
      const at::Tensor y = at::layer_norm(xr, {cols}, wr, wr, 1e-5);
      (void)torch::autograd::grad({y}, {xr, wr}, {dy});
    });
    const double ours_ln = time_ms([&] {
      const at::Tensor y = zs::layer_norm_fused_param_grads(xr, wr, wr, 1e-5);
      (void)torch::autograd::grad({y}, {xr, wr}, {dy});
    });
    std::printf("[norm bias] [%lld x %lld] bf16: small linear + bias gradient: ATen %.1f us, ours %.1f us (%.2fx) | "
                "layer norm forward + input/weight/bias gradients: ATen %.1f us, ours %.1f us (%.2fx)\n",
                (long long)rows, (long long)cols, aten_bias * 1e3, ours_bias * 1e3, aten_bias / ours_bias, aten_ln * 1e3,
                ours_ln * 1e3, aten_ln / ours_ln);
  }
}

}  // namespace
