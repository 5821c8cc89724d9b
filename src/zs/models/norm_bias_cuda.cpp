// Linear-with-bias and LayerNorm as autograd functions on our kernels (norm_bias_cuda.hpp). GPU
// builds only.
#include "zs/models/norm_bias_cuda.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <ATen/core/grad_mode.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/native_layer_norm.h>
#include <ATen/ops/native_layer_norm_backward.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/autograd/custom_function.h>

#include "zs/config/env.hpp"
#include "zs/models/column_sums_kernels.hpp"
#include "zs/models/layer_norm_kernels.hpp"
#include "zs/kernels/check_launch.hpp"

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

// rows x features, contiguous and 16-byte aligned for the kernels' vector loads (a copy only when
// the tensor arrives strided or at an odd offset).
at::Tensor as_rows(const at::Tensor& t) {
  at::Tensor rows = t.reshape({-1, t.size(-1)}).contiguous();
  return reinterpret_cast<uintptr_t>(rows.const_data_ptr()) % 16 == 0 ? rows : rows.clone();
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

bool fused_layer_norm_enabled() {
  static const bool on = switch_from_env("ZS_FUSED_LAYER_NORM");
  return on;
}

// {y, mean, rstd} as at::native_layer_norm returns them: ours for rows of up to 2,048 features in
// the weight's dtype, else ATen's. ZS_FUSED_LAYER_NORM=0 leaves forward and backward to ATen (with
// our column sums for the weight and bias gradients).
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_forward(const at::Tensor& x, const at::Tensor& weight,
                                                                  const std::optional<at::Tensor>& bias, double eps) {
  const int64_t cols = weight.size(0);
  const bool ours = fused_layer_norm_enabled() && cols <= kernels::kLayerNormMaxCols &&
                    weight.is_contiguous() && (!bias || (bias->scalar_type() == x.scalar_type() && bias->is_contiguous()));
  if (!ours) return at::native_layer_norm(x, {cols}, weight, bias, eps);
  const at::Tensor rows = as_rows(x), w = as_rows(weight.view({1, cols}));
  const at::Tensor b = bias ? as_rows(bias->view({1, cols})) : at::Tensor();
  at::Tensor y = at::empty_like(rows);
  std::vector<int64_t> stat_shape(x.sizes().begin(), x.sizes().end() - 1);
  stat_shape.push_back(1);
  const auto f32 = x.options().dtype(at::kFloat);
  at::Tensor mean = at::empty(stat_shape, f32), rstd = at::empty(stat_shape, f32);
  const c10::cuda::CUDAGuard guard(x.device());
  kernels::launch_layer_norm_forward(rows.const_data_ptr(), w.const_data_ptr(), b.defined() ? b.const_data_ptr() : nullptr,
                                     rows.size(0), cols, float(eps), kernels::float_kind(x.scalar_type()),
                                     y.data_ptr(), mean.data_ptr<float>(), rstd.data_ptr<float>(),
                                     c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("layer norm forward kernel");
  return {y.view(x.sizes()), mean, rstd};
}

// {dx (when wanted), dweight, dbias} from our one-pass backward (rows of up to 768 features).
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward(const at::Tensor& dy, const at::Tensor& x,
                                                                   const at::Tensor& weight, const at::Tensor& mean,
                                                                   const at::Tensor& rstd, bool want_dx) {
  const int64_t cols = weight.size(0);
  const at::Tensor dy_rows = as_rows(dy), x_rows = as_rows(x), w = as_rows(weight.view({1, cols}));
  const at::Tensor mean_rows = mean.reshape({-1}).contiguous(), rstd_rows = rstd.reshape({-1}).contiguous();
  const int64_t rows = x_rows.size(0);
  const c10::cuda::CUDAGuard guard(x.device());
  const int row_blocks =
      kernels::layer_norm_backward_row_blocks(rows, at::cuda::getCurrentDeviceProperties()->multiProcessorCount);
  at::Tensor partial = at::empty({2, row_blocks, cols}, x.options().dtype(at::kFloat));
  at::Tensor dx = want_dx ? at::empty_like(x_rows) : at::Tensor();
  at::Tensor dweight = at::empty({cols}, weight.options()), dbias = at::empty({cols}, weight.options());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
  kernels::launch_layer_norm_backward(dy_rows.const_data_ptr(), x_rows.const_data_ptr(), mean_rows.const_data_ptr<float>(),
                                      rstd_rows.const_data_ptr<float>(), w.const_data_ptr(), rows, cols,
                                      kernels::float_kind(x.scalar_type()), row_blocks,
                                      want_dx ? dx.data_ptr() : nullptr, partial.data_ptr<float>(), stream);
  kernels::check_launch("layer norm backward kernel");
  kernels::launch_finish_column_sums(partial.data_ptr<float>(), row_blocks, cols, 2,
                                     kernels::float_kind(weight.scalar_type()), dbias.data_ptr(), dweight.data_ptr(),
                                     stream);
  kernels::check_launch("column-sum kernels");
  return {want_dx ? dx.view(x.sizes()) : at::Tensor(), dweight, dbias};
}

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
