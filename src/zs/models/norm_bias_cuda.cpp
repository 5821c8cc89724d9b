// Linear-with-bias and LayerNorm as autograd functions on our kernels (norm_bias_cuda.hpp; the
// LayerNorm launches are layer_norm_cuda.cpp's). GPU builds only.
#include "zs/models/norm_bias_cuda.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>

#include <ATen/core/grad_mode.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/native_layer_norm_backward.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/autograd/custom_function.h>

#include "zs/config/env.hpp"
#include "zs/kernels/check_launch.hpp"
#include "zs/models/column_sums_kernels.hpp"
#include "zs/models/layer_norm_cuda.hpp"

namespace zs {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

bool fused_norm_bias_enabled() {
  static const bool on = switch_from_env("ZS_FUSED_NORM_BIAS");
  return on;
}

// Column sums of dy (rows x cols, contiguous) in `out_dtype`: {sum_dy, sum_dy_xhat}; the second only
// with x (LayerNorm's input, with its per-row mean and rstd).
std::pair<at::Tensor, at::Tensor> column_sums(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& mean,
                                              const at::Tensor& rstd, at::ScalarType out_dtype) {
  const int64_t rows = dy.size(0), cols = dy.size(1);
  const c10::cuda::CUDAGuard guard(dy.device());
  const int row_blocks =
      kernels::column_sums_row_blocks(rows, cols, at::cuda::getCurrentDeviceProperties()->multiProcessorCount);
  const int sums = x.defined() ? 2 : 1;
  const auto on_device = dy.options();
  at::Tensor workspace = at::empty({sums, row_blocks, cols}, on_device.dtype(at::kFloat));
  at::Tensor sum_dy = at::empty({cols}, on_device.dtype(out_dtype));
  at::Tensor sum_dy_xhat = x.defined() ? at::empty({cols}, on_device.dtype(out_dtype)) : at::Tensor();
  kernels::launch_column_sums(dy.const_data_ptr(), x.defined() ? x.const_data_ptr() : nullptr,
                              x.defined() ? mean.const_data_ptr<float>() : nullptr,
                              x.defined() ? rstd.const_data_ptr<float>() : nullptr, rows, cols,
                              kernels::float_kind(dy.scalar_type()), row_blocks, workspace.data_ptr<float>(),
                              kernels::float_kind(out_dtype), sum_dy.data_ptr(),
                              x.defined() ? sum_dy_xhat.data_ptr() : nullptr, c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("column-sum kernels");
  return {sum_dy, sum_dy_xhat};
}

struct LinearBiasGrad : torch::autograd::Function<LinearBiasGrad> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    return at::linear(x, weight, bias);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor dy = as_rows(grads[0]);
    at::Tensor dx, dweight, dbias;
    if (ctx->needs_input_grad(0)) dx = dy.mm(weight).view(x.sizes());
    if (ctx->needs_input_grad(1)) dweight = dy.t().mm(as_rows(x));
    if (ctx->needs_input_grad(2)) dbias = column_sums(dy, {}, {}, {}, weight.scalar_type()).first;
    return {dx, dweight, dbias};
  }
};

// The bias is optional: an autograd function's inputs may not be undefined tensors.
struct LayerNormParamGrads : torch::autograd::Function<LayerNormParamGrads> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias, double eps) {
    auto [y, mean, rstd] = layer_norm_forward(x, weight, bias, eps);
    ctx->save_for_backward({x, weight, mean, rstd});
    ctx->saved_data["has_bias"] = bias.has_value();
    return y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &mean = saved[2], &rstd = saved[3];
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    if (fused_layer_norm_enabled() && weight.size(0) <= kernels::kLayerNormBackwardMaxCols) {
      auto [dx, dweight, dbias] = layer_norm_backward(grads[0], x, weight, mean, rstd, ctx->needs_input_grad(0));
      return {dx, dweight, has_bias ? dbias : at::Tensor(), at::Tensor()};
    }
    const at::Tensor dy = grads[0].contiguous();
    at::Tensor dx;
    if (ctx->needs_input_grad(0))  // the bias does not enter the input's gradient
      dx = std::get<0>(at::native_layer_norm_backward(dy, x, {weight.size(0)}, mean, rstd, weight, at::Tensor(),
                                                      {true, false, false}));
    at::Tensor dweight, dbias;
    if (ctx->needs_input_grad(1) || (has_bias && ctx->needs_input_grad(2))) {
      auto [sum_dy, sum_dy_xhat] = column_sums(as_rows(dy), as_rows(x), mean.reshape({-1}).contiguous(),
                                               rstd.reshape({-1}).contiguous(), weight.scalar_type());
      dweight = sum_dy_xhat;
      if (has_bias) dbias = sum_dy;
    }
    return {dx, dweight, dbias, at::Tensor()};
  }
};

}  // namespace

bool fused_norm_bias_applies(const at::Tensor& x, const at::Tensor& weight) {
  if (!fused_norm_bias_enabled() || !x.is_cuda() || !at::GradMode::is_enabled()) return false;
  if (!x.requires_grad() && !weight.requires_grad()) return false;
  const auto dtype = x.scalar_type();
  const bool float_dtype = dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf;
  return float_dtype && weight.scalar_type() == dtype && x.dim() >= 2 && x.size(-1) % 8 == 0 &&
         weight.size(0) % 8 == 0 && x.is_contiguous();
}

at::Tensor linear_fused_bias_grad(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return LinearBiasGrad::apply(x, weight, bias);
}

at::Tensor layer_norm_fused_param_grads(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                        double eps) {
  return LayerNormParamGrads::apply(x, weight, bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt, eps);
}

}  // namespace zs
