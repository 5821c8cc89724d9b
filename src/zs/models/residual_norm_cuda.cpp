// The residual stream's autograd functions on our LayerNorm kernels (residual_norm_cuda.hpp). GPU
// builds only.
#include "zs/models/residual_norm_cuda.hpp"

#include <optional>
#include <tuple>

#include <ATen/core/grad_mode.h>
#include <ATen/ops/_masked_scale.h>
#include <ATen/ops/add.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros_like.h>
#include <torch/csrc/autograd/custom_function.h>

#include "zs/config/env.hpp"
#include "zs/models/layer_norm_cuda.hpp"
#include "zs/models/norm_bias_cuda.hpp"

namespace zs {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

bool fused_residual_enabled() {
  static const bool on = switch_from_env("ZS_FUSED_RESIDUAL");
  return on;
}

// {h, normed}, h = x + dropout(branch), or x itself without a branch. Backward: h's whole gradient
// is its own plus what the norm hands back, and that is x's; the branch gets it through the mask.
// (Inputs are never undefined tensors, so the branch is optional.)
struct DropoutAddLayerNorm : torch::autograd::Function<DropoutAddLayerNorm> {
  static tensor_list forward(AutogradContext* ctx, const at::Tensor& x, const std::optional<at::Tensor>& branch,
                             const at::Tensor& weight, const std::optional<at::Tensor>& bias, double p, double eps) {
    ResidualNormed out;
    if (branch) {
      out = residual_layer_norm_forward(x, *branch, p, weight, bias, eps);
    } else {
      out.h = x;
      std::tie(out.y, out.mean, out.rstd) = layer_norm_forward(x, weight, bias, eps);
    }
    ctx->save_for_backward({out.h, weight, out.mean, out.rstd, out.keep_mask});
    ctx->saved_data["has_branch"] = branch.has_value();
    ctx->saved_data["has_bias"] = bias.has_value();
    ctx->saved_data["p"] = p;
    return {out.h, out.y};
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &h = saved[0], &weight = saved[1], &mean = saved[2], &rstd = saved[3], &keep_mask = saved[4];
    const double p = ctx->saved_data["p"].toDouble();
    const at::Tensor dh_other = grads[0].defined() ? as_rows(grads[0]) : at::Tensor();
    const at::Tensor dnormed = grads[1].defined() ? grads[1] : at::zeros_like(h);
    kernels::ResidualGrad residual;
    residual.dh_other = dh_other.defined() ? dh_other.const_data_ptr() : nullptr;
    at::Tensor dbranch;
    if (p > 0) {
      dbranch = at::empty_like(h);
      residual.keep_mask = static_cast<const uint8_t*>(keep_mask.const_data_ptr());
      residual.keep = float(1 - p);
      residual.dbranch = dbranch.data_ptr();
    }
    auto [dx, dweight, dbias] = layer_norm_backward(dnormed, h, weight, mean, rstd, /*want_dx=*/true, residual);
    if (p == 0 && ctx->saved_data["has_branch"].toBool()) dbranch = dx;
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    return {dx, dbranch, dweight, has_bias ? dbias : at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

struct DropoutAdd : torch::autograd::Function<DropoutAdd> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& branch, double p) {
    ResidualNormed out = residual_layer_norm_forward(x, branch, p, at::Tensor(), std::nullopt, 0.0);
    ctx->save_for_backward({out.keep_mask});
    ctx->saved_data["p"] = p;
    return out.h;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const at::Tensor keep_mask = ctx->get_saved_variables()[0];
    const double p = ctx->saved_data["p"].toDouble();
    return {grads[0], at::_masked_scale(grads[0], keep_mask, 1 / (1 - p)), at::Tensor()};
  }
};

}  // namespace

bool fused_residual_applies(const at::Tensor& x, const at::Tensor& norm_weight) {
  return fused_residual_enabled() && fused_layer_norm_enabled() && fused_norm_bias_applies(x, norm_weight) &&
         x.size(-1) <= kernels::kLayerNormBackwardMaxCols;
}

namespace {
std::optional<at::Tensor> if_defined(const at::Tensor& t) { return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt; }
}  // namespace

std::pair<at::Tensor, at::Tensor> dropout_add_layer_norm(const at::Tensor& x, const at::Tensor& branch, double p,
                                                         const at::Tensor& weight, const at::Tensor& bias, double eps) {
  const tensor_list out = DropoutAddLayerNorm::apply(x, branch, weight, if_defined(bias), p, eps);
  return {out[0], out[1]};
}

std::pair<at::Tensor, at::Tensor> layer_norm_keeping_input(const at::Tensor& x, const at::Tensor& weight,
                                                           const at::Tensor& bias, double eps) {
  const tensor_list out = DropoutAddLayerNorm::apply(x, std::nullopt, weight, if_defined(bias), 0.0, eps);
  return {out[0], out[1]};
}

at::Tensor dropout_add(const at::Tensor& x, const at::Tensor& branch, double p) {
  if (p == 0) return at::add(x, branch);
  return DropoutAdd::apply(x, branch, p);
}

}  // namespace zs
