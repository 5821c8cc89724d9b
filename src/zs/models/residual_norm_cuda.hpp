// A pre-norm transformer block's residual stream on our LayerNorm kernels (layer_norm_kernels.hpp):
//   layer_norm_keeping_input: {x, LayerNorm(x)}, x handed on as an output so that its gradient
//                             from later uses joins the norm's in the norm's backward pass;
//   dropout_add_layer_norm:   h = x + dropout(branch, p) and LayerNorm(h), one pass forward and
//                             one backward (h's gradient from its other uses folded in likewise);
//   dropout_add:              h = x + dropout(branch, p) alone.
// Separately, ATen reads and writes the activation once for the dropout, once for the add and once
// for the norm, each way, and autograd adds the gradients of a tensor used twice in one more pass.
// The masks come from LibTorch's CUDA generator (Philox, as its dropout draws, so manual_seed,
// activation checkpointing's replay and CUDA graphs work as with it) but are not the masks ATen's
// dropout would draw. ZS_FUSED_RESIDUAL=0 leaves all of it to ATen. GPU builds only.
#pragma once

#include <utility>

#include <ATen/core/Tensor.h>

namespace zs {

// Training on a GPU as fused_norm_bias_applies asks, rows of up to 768 features (the one-pass
// LayerNorm backward's limit), ZS_FUSED_RESIDUAL and ZS_FUSED_LAYER_NORM not "0".
bool fused_residual_applies(const at::Tensor& x, const at::Tensor& norm_weight);

// {x, LayerNorm(x) with weight, bias (may be undefined) and eps}.
std::pair<at::Tensor, at::Tensor> layer_norm_keeping_input(const at::Tensor& x, const at::Tensor& weight,
                                                           const at::Tensor& bias, double eps);

// {h, LayerNorm(h) with weight, bias (may be undefined) and eps}; p: the dropout probability (0: none).
// branch: x's shape and dtype, on x's GPU (else invalid_argument).
std::pair<at::Tensor, at::Tensor> dropout_add_layer_norm(const at::Tensor& x, const at::Tensor& branch, double p,
                                                         const at::Tensor& weight, const at::Tensor& bias, double eps);

// x + dropout(branch, p).
at::Tensor dropout_add(const at::Tensor& x, const at::Tensor& branch, double p);

}  // namespace zs
