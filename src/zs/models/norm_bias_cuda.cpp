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
#include <ATen/ops/add.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/native_layer_norm.h>
#include <ATen/ops/native_layer_norm_backward.h>
#include <ATen/ops/zeros_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/autograd/custom_function.h>

#include "zs/base/grad_place.hpp"
#include "zs/config/env.hpp"
#include "zs/models/column_sums_kernels.hpp"
#include "zs/models/layer_norm_kernels.hpp"
#include "zs/models/rms_norm_kernels.hpp"
#include "zs/kernels/check_launch.hpp"

namespace zs {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

bool fused_norm_bias_enabled() {
  static const bool on = switch_from_env("ZS_FUSED_NORM_BIAS");
  return on;
}

// Where `param`'s gradient (of `sizes` and `dtype`) may be written: the place its consumer offers
// (base/grad_place.hpp) when it fits, else undefined (the caller allocates).
at::Tensor grad_place_for(const at::Tensor& param, at::IntArrayRef sizes, at::ScalarType dtype) {
  if (!param.defined()) return {};
  at::Tensor place = take_grad_place(param);
  if (place.defined() && place.sizes() == sizes && place.scalar_type() == dtype && place.is_contiguous() &&
      place.device() == param.device())
    return place;
  return {};
}

// Column sums of dy (rows x cols, contiguous) in `out_dtype`: {sum_dy, sum_dy_xhat}; the second only
// with x (LayerNorm's input, with its per-row mean and rstd). Written into `sum_dy_into` and
// `sum_dy_xhat_into` where those are defined (contiguous, cols elements of out_dtype).
std::pair<at::Tensor, at::Tensor> column_sums(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& mean,
                                              const at::Tensor& rstd, at::ScalarType out_dtype,
                                              const at::Tensor& sum_dy_into = {},
                                              const at::Tensor& sum_dy_xhat_into = {}) {
  const int64_t rows = dy.size(0), cols = dy.size(1);
  const c10::cuda::CUDAGuard guard(dy.device());
  const int row_blocks =
      kernels::column_sums_row_blocks(rows, cols, at::cuda::getCurrentDeviceProperties()->multiProcessorCount);
  const int sums = x.defined() ? 2 : 1;
  const auto on_device = dy.options();
  at::Tensor workspace = at::empty({sums, row_blocks, cols}, on_device.dtype(at::kFloat));
  at::Tensor sum_dy = sum_dy_into.defined() ? sum_dy_into : at::empty({cols}, on_device.dtype(out_dtype));
  at::Tensor sum_dy_xhat = !x.defined()                  ? at::Tensor()
                           : sum_dy_xhat_into.defined() ? sum_dy_xhat_into
                                                        : at::empty({cols}, on_device.dtype(out_dtype));
  kernels::launch_column_sums(dy.const_data_ptr(), x.defined() ? x.const_data_ptr() : nullptr,
                              x.defined() ? mean.const_data_ptr<float>() : nullptr,
                              x.defined() ? rstd.const_data_ptr<float>() : nullptr, rows, cols,
                              kernels::float_kind(dy.scalar_type()), row_blocks, workspace.data_ptr<float>(),
                              kernels::float_kind(out_dtype), sum_dy.data_ptr(),
                              x.defined() ? sum_dy_xhat.data_ptr() : nullptr, c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("column-sum kernels");
  return {sum_dy, sum_dy_xhat};
}

int sm_count() { return at::cuda::getCurrentDeviceProperties()->multiProcessorCount; }

// rows x features, contiguous and 16-byte aligned for the kernels' vector loads (a copy only when
// the tensor arrives strided or at an odd offset).
at::Tensor as_rows(const at::Tensor& t) {
  at::Tensor rows = t.reshape({-1, t.size(-1)}).contiguous();
  return reinterpret_cast<uintptr_t>(rows.const_data_ptr()) % 16 == 0 ? rows : rows.clone();
}

// A linear's weight gradient dy^T x (dy and x_rows: rows x out and rows x in, as_rows) as one GEMM,
// written straight into the place the engine offers for it, else a new tensor.
at::Tensor linear_weight_grad(const at::Tensor& dy, const at::Tensor& x_rows, const at::Tensor& weight) {
  at::Tensor place = grad_place_for(weight, weight.sizes(), dy.scalar_type());
  return place.defined() ? at::mm_out(place, dy.t(), x_rows) : dy.t().mm(x_rows);
}

// A linear's bias gradient: the column sums of dy, in the weight's dtype, into the bias's place.
at::Tensor linear_bias_grad(const at::Tensor& dy, const at::Tensor& bias, at::ScalarType dtype) {
  return column_sums(dy, {}, {}, {}, dtype, grad_place_for(bias, bias.sizes(), dtype)).first;
}

// y = x W^T (+ b). Backward: the weight's gradient is one GEMM, written straight into the place the
// engine offers for it (else a new tensor, contiguous like the weight); the bias's is our column
// sum, also into its place. The bias is optional: an autograd function's inputs may not be
// undefined tensors. With evaluate=false the forward returns the result uninitialised (its
// backward needs only x and the weight): for a forward whose result is never read.
struct Linear : torch::autograd::Function<Linear> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias, bool evaluate) {
    ctx->save_for_backward({x, weight, bias.value_or(at::Tensor())});
    if (!evaluate) {
      std::vector<int64_t> sizes = x.sizes().vec();
      sizes.back() = weight.size(0);
      return at::empty(sizes, x.options());
    }
    return at::linear(x, weight, bias);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& bias = saved[2];
    const at::Tensor dy = as_rows(grads[0]);
    at::Tensor dx, dweight, dbias;
    if (ctx->needs_input_grad(0)) dx = dy.mm(weight).view(x.sizes());
    if (ctx->needs_input_grad(1)) dweight = linear_weight_grad(dy, as_rows(x), weight);
    if (bias.defined() && ctx->needs_input_grad(2)) dbias = linear_bias_grad(dy, bias, weight.scalar_type());
    return {dx, dweight, dbias, at::Tensor()};
  }
};

// y_k = x W_k^T (+ b_k) for several weights that share one input (a layer's q, k and v projections;
// its gate and up). One autograd node instead of one per weight: backward sums the input's
// gradient inside the GEMMs (each after the first adds its product to the sum, beta = 1), where
// autograd would add each further branch's gradient in a pass of its own over the activations.
// The weights' and biases' gradients are Linear's. biases: empty, or one per weight.
struct SharedInputLinears : torch::autograd::Function<SharedInputLinears> {
  static tensor_list forward(AutogradContext* ctx, const at::Tensor& x, at::TensorList weights, at::TensorList biases) {
    tensor_list saved{x};
    saved.insert(saved.end(), weights.begin(), weights.end());
    saved.insert(saved.end(), biases.begin(), biases.end());
    ctx->save_for_backward(saved);
    tensor_list out;
    for (size_t k = 0; k < weights.size(); ++k)
      out.push_back(at::linear(x, weights[k], biases.empty() ? std::optional<at::Tensor>() : biases[k]));
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const size_t n = grads.size();
    const at::Tensor& x = saved[0];
    const bool biased = saved.size() == 1 + 2 * n;
    const at::Tensor x_rows = as_rows(x);
    at::Tensor dx;
    tensor_list dweights(n), dbiases(biased ? n : 0);
    for (size_t k = 0; k < n; ++k) {
      if (!grads[k].defined()) continue;
      const at::Tensor& weight = saved[1 + k];
      const at::Tensor dy = as_rows(grads[k]);
      if (ctx->needs_input_grad(0)) dx = dx.defined() ? dx.addmm_(dy, weight) : dy.mm(weight);
      if (ctx->needs_input_grad(1 + k)) dweights[k] = linear_weight_grad(dy, x_rows, weight);
      if (biased && ctx->needs_input_grad(1 + n + k))
        dbiases[k] = linear_bias_grad(dy, saved[1 + n + k], weight.scalar_type());
    }
    tensor_list out{dx.defined() ? dx.view(x.sizes()) : dx};
    out.insert(out.end(), dweights.begin(), dweights.end());
    out.insert(out.end(), dbiases.begin(), dbiases.end());
    return out;
  }
};

bool fused_layer_norm_enabled() {
  static const bool on = switch_from_env("ZS_FUSED_LAYER_NORM");
  return on;
}

struct NormForward {
  at::Tensor y, mean, rstd;  // as at::native_layer_norm returns them
  at::Tensor input;          // the rows normalised: x, or x + addend
};

// LayerNorm of x, or of x + addend (rounded as a separate add rounds it): ours for rows of up to
// 2,048 features in the weight's dtype, else ATen's. ZS_FUSED_LAYER_NORM=0 leaves the forward and
// the input's gradient to ATen (the weight's and bias's gradients are our column sums either way).
NormForward layer_norm_forward(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                               double eps, const at::Tensor& addend) {
  const int64_t cols = weight.size(0);
  const bool ours = fused_layer_norm_enabled() && cols <= kernels::kLayerNormMaxCols &&
                    weight.is_contiguous() && (!bias || (bias->scalar_type() == x.scalar_type() && bias->is_contiguous()));
  if (!ours) {
    const at::Tensor input = addend.defined() ? at::add(x, addend) : x;
    auto [y, mean, rstd] = at::native_layer_norm(input, {cols}, weight, bias, eps);
    return {y, mean, rstd, input};
  }
  const at::Tensor rows = as_rows(x), w = as_rows(weight.view({1, cols}));
  const at::Tensor b = bias ? as_rows(bias->view({1, cols})) : at::Tensor();
  const at::Tensor addend_rows = addend.defined() ? as_rows(addend) : at::Tensor();
  at::Tensor y = at::empty_like(rows), sum = addend.defined() ? at::empty_like(rows) : at::Tensor();
  std::vector<int64_t> stat_shape(x.sizes().begin(), x.sizes().end() - 1);
  stat_shape.push_back(1);
  const auto f32 = x.options().dtype(at::kFloat);
  at::Tensor mean = at::empty(stat_shape, f32), rstd = at::empty(stat_shape, f32);
  const c10::cuda::CUDAGuard guard(x.device());
  kernels::launch_layer_norm_forward(rows.const_data_ptr(), addend.defined() ? addend_rows.const_data_ptr() : nullptr,
                                     w.const_data_ptr(), b.defined() ? b.const_data_ptr() : nullptr, rows.size(0), cols,
                                     float(eps), kernels::float_kind(x.scalar_type()), y.data_ptr(),
                                     sum.defined() ? sum.data_ptr() : nullptr, mean.data_ptr<float>(),
                                     rstd.data_ptr<float>(), c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("layer norm forward kernel");
  return {y.view(x.sizes()), mean, rstd, sum.defined() ? sum.view(x.sizes()) : x};
}

// {dx, dweight, dbias} of y = LayerNorm(x), each only when wanted; `residual` (or undefined) is a
// gradient x also gets from elsewhere, added into dx (in our kernel before its one rounding).
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward(const at::Tensor& dy_in, const at::Tensor& x,
                                                                   const at::Tensor& weight, const at::Tensor& bias,
                                                                   const at::Tensor& mean,
                                                                   const at::Tensor& rstd, bool want_dx,
                                                                   bool want_weight, bool want_bias,
                                                                   const at::Tensor& residual) {
  const int64_t cols = weight.size(0);
  const at::Tensor dy = as_rows(dy_in), x_rows = as_rows(x);
  const at::Tensor mean_rows = mean.reshape({-1}).contiguous(), rstd_rows = rstd.reshape({-1}).contiguous();
  at::Tensor dx, dweight, dbias;
  if (want_dx && fused_layer_norm_enabled() && cols <= kernels::kLayerNormMaxCols) {
    const at::Tensor w = as_rows(weight.view({1, cols}));
    const at::Tensor residual_rows = residual.defined() ? as_rows(residual) : at::Tensor();
    const c10::cuda::CUDAGuard guard(x.device());
    dx = at::empty_like(x_rows);
    kernels::launch_layer_norm_backward_dx(dy.const_data_ptr(), x_rows.const_data_ptr(), mean_rows.const_data_ptr<float>(),
                                           rstd_rows.const_data_ptr<float>(), w.const_data_ptr(),
                                           residual.defined() ? residual_rows.const_data_ptr() : nullptr,
                                           x_rows.size(0), cols, kernels::float_kind(x.scalar_type()), dx.data_ptr(),
                                           c10::cuda::getCurrentCUDAStream().stream());
    kernels::check_launch("layer norm backward kernel");
    dx = dx.view(x.sizes());
  } else if (want_dx) {  // the bias does not enter the input's gradient
    dx = std::get<0>(at::native_layer_norm_backward(dy.view(x.sizes()), x, {cols}, mean, rstd, weight, at::Tensor(),
                                                    {true, false, false}));
    if (residual.defined()) dx = at::add(dx, residual);
  }
  if (want_weight || want_bias) {
    const at::ScalarType dtype = weight.scalar_type();
    auto [sum_dy, sum_dy_xhat] =
        column_sums(dy, x_rows, mean_rows, rstd_rows, dtype, want_bias ? grad_place_for(bias, {cols}, dtype) : at::Tensor(),
                    want_weight ? grad_place_for(weight, {cols}, dtype) : at::Tensor());
    if (want_weight) dweight = sum_dy_xhat;
    if (want_bias) dbias = sum_dy;
  }
  return {dx, dweight, dbias};
}

// The bias is optional: an autograd function's inputs may not be undefined tensors.
struct LayerNormParamGrads : torch::autograd::Function<LayerNormParamGrads> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias, double eps) {
    NormForward f = layer_norm_forward(x, weight, bias, eps, /*addend=*/{});
    ctx->save_for_backward({x, weight, f.mean, f.rstd, bias.value_or(at::Tensor())});
    ctx->saved_data["has_bias"] = bias.has_value();
    return f.y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    auto [dx, dweight, dbias] =
        layer_norm_backward(grads[0], saved[0], saved[1], saved[4], saved[2], saved[3], ctx->needs_input_grad(0),
                            ctx->needs_input_grad(1), has_bias && ctx->needs_input_grad(2), /*residual=*/{});
    return {dx, dweight, dbias, at::Tensor()};
  }
};

// h = x + y and z = LayerNorm(h) as one node: one pass over the rows each way, where apart the add
// and the norm would each pass forward, and backward the norm's and the add's gradients of h would
// be summed in a pass of their own. Without y, h is x itself: the node then only brings h's own
// gradient (the residual stream's) into the norm's backward kernel.
struct AddLayerNorm : torch::autograd::Function<AddLayerNorm> {
  static tensor_list forward(AutogradContext* ctx, const at::Tensor& x, const std::optional<at::Tensor>& y,
                             const at::Tensor& weight, const std::optional<at::Tensor>& bias, double eps) {
    NormForward f = layer_norm_forward(x, weight, bias, eps, y.value_or(at::Tensor()));
    ctx->save_for_backward({f.input, weight, f.mean, f.rstd, bias.value_or(at::Tensor())});
    ctx->saved_data["has_bias"] = bias.has_value();
    ctx->saved_data["has_y"] = y.has_value();
    return {f.input, f.y};
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& h = saved[0];
    const bool has_bias = ctx->saved_data["has_bias"].toBool(), has_y = ctx->saved_data["has_y"].toBool();
    const at::Tensor dz = grads[1].defined() ? grads[1] : at::zeros_like(h);
    // needs_input_grad counts the tensors given: without y the weight is the second.
    const int weight_index = has_y ? 2 : 1;
    auto [dh, dweight, dbias] =
        layer_norm_backward(dz, h, saved[1], saved[4], saved[2], saved[3],
                            ctx->needs_input_grad(0) || (has_y && ctx->needs_input_grad(1)),
                            ctx->needs_input_grad(weight_index), has_bias && ctx->needs_input_grad(weight_index + 1),
                            grads[0]);
    return {dh, has_y ? dh : at::Tensor(), dweight, dbias, at::Tensor()};
  }
};

// {h, z} = {x + y, h * rstd * weight} (without y, h is x itself) as one autograd node on our RMSNorm
// kernels: forward one pass with the add inside; backward one pass that adds h's own gradient (the
// residual stream's) to the norm's input gradient and sums the weight's.
struct AddRmsNorm : torch::autograd::Function<AddRmsNorm> {
  static tensor_list forward(AutogradContext* ctx, const at::Tensor& x, const std::optional<at::Tensor>& y,
                             const at::Tensor& weight, double eps) {
    const at::Tensor rows = as_rows(x);
    const at::Tensor addend = y ? as_rows(*y) : at::Tensor();
    const at::Tensor h = y ? at::empty_like(rows) : rows;
    const at::Tensor z = at::empty_like(rows);
    const at::Tensor rstd = at::empty({rows.size(0)}, rows.options().dtype(at::kFloat));
    const at::Tensor w = as_rows(weight.view({1, weight.size(0)}));
    const c10::cuda::CUDAGuard guard(x.device());
    kernels::launch_rms_norm_forward(rows.const_data_ptr(), y ? addend.const_data_ptr() : nullptr,
                                     w.const_data_ptr(), rows.size(0), rows.size(1), float(eps),
                                     kernels::float_kind(x.scalar_type()), z.data_ptr(), y ? h.data_ptr() : nullptr,
                                     rstd.data_ptr<float>(), sm_count(), c10::cuda::getCurrentCUDAStream().stream());
    kernels::check_launch("RMSNorm forward kernel");
    ctx->save_for_backward({h, rstd, weight});
    ctx->saved_data["has_y"] = y.has_value();
    return {y ? h.view(x.sizes()) : x, z.view(x.sizes())};
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &h = saved[0], &rstd = saved[1], &weight = saved[2];
    const bool has_y = ctx->saved_data["has_y"].toBool();
    if (!grads[1].defined()) return {grads[0], has_y ? grads[0] : at::Tensor(), at::Tensor(), at::Tensor()};
    const auto sizes = grads[1].sizes();
    const at::Tensor dz = as_rows(grads[1]);
    const at::Tensor residual = grads[0].defined() ? as_rows(grads[0]) : at::Tensor();
    const at::Tensor w = as_rows(weight.view({1, weight.size(0)}));
    const int64_t rows = h.size(0), cols = h.size(1);
    // needs_input_grad counts the tensors given: without y the weight is the second.
    const bool want_dx = ctx->needs_input_grad(0) || (has_y && ctx->needs_input_grad(1));
    const bool want_dweight = ctx->needs_input_grad(has_y ? 2 : 1);
    const at::Tensor dx = at::empty_like(h);  // written either way: the kernel's pass makes both
    at::Tensor dweight;
    if (want_dweight) {
      dweight = grad_place_for(weight, weight.sizes(), weight.scalar_type());
      if (!dweight.defined()) dweight = at::empty({cols}, weight.options().memory_format(c10::MemoryFormat::Contiguous));
    }
    const int sms = sm_count();
    const at::Tensor workspace =
        at::empty({kernels::rms_norm_backward_workspace(rows, cols, sms)}, h.options().dtype(at::kFloat));
    const c10::cuda::CUDAGuard guard(h.device());
    kernels::launch_rms_norm_backward(dz.const_data_ptr(), h.const_data_ptr(), rstd.const_data_ptr<float>(),
                                      w.const_data_ptr(), residual.defined() ? residual.const_data_ptr() : nullptr,
                                      rows, cols, kernels::float_kind(h.scalar_type()), dx.data_ptr(),
                                      want_dweight ? dweight.data_ptr() : nullptr,
                                      kernels::float_kind(weight.scalar_type()), workspace.data_ptr<float>(), sms,
                                      c10::cuda::getCurrentCUDAStream().stream());
    kernels::check_launch("RMSNorm backward kernels");
    const at::Tensor dx_out = want_dx ? dx.view(sizes) : at::Tensor();
    return {dx_out, has_y ? dx_out : at::Tensor(), dweight, at::Tensor()};
  }
};

}  // namespace

bool fused_rms_norm_applies(const at::Tensor& x, const at::Tensor& y, const at::Tensor& weight) {
  static const bool on = switch_from_env("ZS_FUSED_RMS_NORM");
  const auto dtype = x.scalar_type();
  const bool float_dtype = dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf;
  const bool y_fits = !y.defined() || (y.sizes() == x.sizes() && y.scalar_type() == dtype && y.device() == x.device());
  const int64_t cols = x.dim() >= 2 ? x.size(-1) : 0;
  return on && x.is_cuda() && float_dtype && cols % 8 == 0 && cols > 0 && cols <= kernels::kRmsNormMaxCols &&
         weight.dim() == 1 && weight.size(0) == cols && weight.scalar_type() == dtype &&
         weight.device() == x.device() && weight.is_contiguous() && y_fits;
}

std::pair<at::Tensor, at::Tensor> add_rms_norm_fused(const at::Tensor& x, const at::Tensor& y, const at::Tensor& weight,
                                                     double eps) {
  const tensor_list out = AddRmsNorm::apply(x, y.defined() ? std::optional<at::Tensor>(y) : std::nullopt, weight, eps);
  return {out[0], out[1]};
}

bool fused_layer_norm_applies(const at::Tensor& x, const at::Tensor& weight) {
  if (!fused_norm_bias_enabled() || !x.is_cuda()) return false;
  const auto dtype = x.scalar_type();
  const bool float_dtype = dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf;
  return float_dtype && weight.scalar_type() == dtype && x.dim() >= 2 && x.size(-1) % 8 == 0 &&
         weight.size(0) % 8 == 0 && x.is_contiguous();
}

bool fused_norm_bias_applies(const at::Tensor& x, const at::Tensor& weight) {
  return fused_layer_norm_applies(x, weight) && at::GradMode::is_enabled() &&
         (x.requires_grad() || weight.requires_grad());
}

at::Tensor linear_cuda(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, bool evaluate) {
  return Linear::apply(x, weight, bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt, evaluate);
}

std::vector<at::Tensor> linears_cuda(const at::Tensor& x, const std::vector<at::Tensor>& weights,
                                     const std::vector<at::Tensor>& biases) {
  return SharedInputLinears::apply(x, at::TensorList(weights), at::TensorList(biases));
}

at::Tensor layer_norm_fused_param_grads(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                        double eps) {
  return LayerNormParamGrads::apply(x, weight, bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt, eps);
}

std::pair<at::Tensor, at::Tensor> add_layer_norm_fused(const at::Tensor& x, const at::Tensor& y,
                                                       const at::Tensor& weight, const at::Tensor& bias, double eps) {
  const tensor_list out =
      AddLayerNorm::apply(x, y.defined() ? std::optional<at::Tensor>(y) : std::nullopt, weight,
                          bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt, eps);
  return {out[0], out[1]};
}

}  // namespace zs
