// Linear-with-bias and LayerNorm on GPUs with their parameter gradients from our column-sum kernels
// (column_sums_kernels.cu): the forward and the input's gradient stay ATen's, the bias gradient and
// LayerNorm's weight and bias gradients are summed over the rows in one pass each. The same values
// as ATen within fp32 rounding (the sums go in another order); the same bits run after run. GPU
// builds only.
#pragma once

#include <ATen/core/Tensor.h>

namespace zs {

// Training on a GPU (gradients wanted) in float32, bfloat16 or float16, a last dimension that is a
// multiple of 8, and ZS_FUSED_NORM_BIAS not "0" (which leaves it all to ATen, for comparisons).
bool fused_norm_bias_applies(const at::Tensor& x, const at::Tensor& weight);

// at::linear(x, weight, bias) with bias defined.
at::Tensor linear_fused_bias_grad(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// at::layer_norm(x, {weight.size(0)}, weight, bias, eps); bias may be undefined.
at::Tensor layer_norm_fused_param_grads(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                        double eps);

}  // namespace zs
