// Linear, LayerNorm and RMSNorm on GPUs with our kernels where ATen's are slow for GPT and Llama
// shapes: the bias gradient and LayerNorm's weight and bias gradients summed over the rows in one
// pass (column_sums_kernels.cu), LayerNorm's forward and its input's gradient (rows of up to 2,048
// features; layer_norm_kernels.cu), RMSNorm with the residual add (rms_norm_kernels.cu). Parameter
// gradients are written where the engine's gradient buckets offer to take them
// (base/grad_place.hpp), saving a copy of each. The linear's forward and input gradient stay ATen's.
// Values within fp32 rounding of ATen's (the sums go in another order); the same bits run after
// run. ZS_FUSED_NORM_BIAS=0 turns the linear and LayerNorm parts off, ZS_FUSED_LAYER_NORM=0 the
// LayerNorm kernels only, ZS_FUSED_RMS_NORM=0 the RMSNorm ones. GPU builds only.
#pragma once

#include <ATen/core/Tensor.h>

#include <utility>
#include <vector>

namespace zs {

// Training on a GPU (gradients wanted) in float32, bfloat16 or float16, a last dimension that is a
// multiple of 8, and ZS_FUSED_NORM_BIAS not "0".
bool fused_norm_bias_applies(const at::Tensor& x, const at::Tensor& weight);

// The same without the autograd conditions, for LayerNorm: with or without autograd on our kernels,
// so that a checkpointed forward and its recompute normalise alike.
bool fused_layer_norm_applies(const at::Tensor& x, const at::Tensor& weight);

// at::linear(x, weight, bias); bias may be undefined. Backward writes the weight's and bias's
// gradients where the engine offers (base/grad_place.hpp). evaluate=false: the result's shape and
// autograd history with uninitialised values, no GEMM (DeviceLinear::forward_unevaluated).
at::Tensor linear_cuda(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, bool evaluate = true);

// {at::linear(x, weights[k], biases[k])...} for weights that share the input x, as one autograd
// node whose backward sums x's gradient inside the GEMMs (no separate add per further weight).
// biases: empty, or one per weight. Parameter gradients as linear_cuda's.
std::vector<at::Tensor> linears_cuda(const at::Tensor& x, const std::vector<at::Tensor>& weights,
                                     const std::vector<at::Tensor>& biases);

// at::layer_norm(x, {weight.size(0)}, weight, bias, eps); bias may be undefined.
at::Tensor layer_norm_fused_param_grads(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                        double eps);

// {h, z} = {x + y, at::layer_norm(h, ...)} as one autograd node (y undefined, or of x's shape,
// dtype and contiguity): the residual stream's add and the next norm in one pass each way. Without
// y, h is x itself, and backward adds h's own gradient (the residual stream's) to the norm's
// input gradient inside its kernel instead of in a pass of autograd's.
std::pair<at::Tensor, at::Tensor> add_layer_norm_fused(const at::Tensor& x, const at::Tensor& y,
                                                       const at::Tensor& weight, const at::Tensor& bias, double eps);

// RMSNorm on our kernels (rms_norm_kernels.hpp): x on a GPU in float32, bfloat16 or float16, a last
// dimension that is a multiple of 8 and at most 8,192, the weight of that size and dtype, y undefined or x's shape and
// dtype, and ZS_FUSED_RMS_NORM not "0". With or without autograd, so that a checkpointed forward and
// its recompute compute the same values.
bool fused_rms_norm_applies(const at::Tensor& x, const at::Tensor& y, const at::Tensor& weight);

// {h, z} = {x + y, rms_norm(h) * weight} as one autograd node (y undefined: h is x): the residual
// stream's add and the next norm in one pass each way, the residual's gradient added in the norm's.
std::pair<at::Tensor, at::Tensor> add_rms_norm_fused(const at::Tensor& x, const at::Tensor& y, const at::Tensor& weight,
                                                     double eps);

}  // namespace zs
