// The tensor side of our LayerNorm kernels (layer_norm_kernels.hpp): checks, allocations and
// launches on the current stream, for LayerNorm's autograd function (norm_bias_cuda.cpp) and the
// residual stream's (residual_norm_cuda.cpp). GPU builds only.
#pragma once

#include <optional>
#include <tuple>

#include <ATen/core/Tensor.h>

#include "zs/models/layer_norm_kernels.hpp"

namespace zs {

// rows x features, contiguous and 16-byte aligned for the kernels' vector loads (a copy only when
// the tensor arrives strided or at an odd offset).
at::Tensor as_rows(const at::Tensor& t);

// ZS_FUSED_LAYER_NORM not "0".
bool fused_layer_norm_enabled();

// {y, mean, rstd} as at::native_layer_norm returns them: ours for rows of up to 2,048 features in
// the weight's dtype, else ATen's. ZS_FUSED_LAYER_NORM=0 leaves it to ATen.
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_forward(const at::Tensor& x, const at::Tensor& weight,
                                                                  const std::optional<at::Tensor>& bias, double eps);

// h = x + dropout(branch, p) and, with a weight, y = LayerNorm(h) with its mean and rstd (our
// kernel: rows of up to 2,048 features, x and branch alike). keep_mask: 1 kept / 0 dropped (uint8,
// as at::_masked_scale takes it),
// undefined when p is 0.
struct ResidualNormed {
  at::Tensor h, y, mean, rstd, keep_mask;
};
ResidualNormed residual_layer_norm_forward(const at::Tensor& x, const at::Tensor& branch, double p,
                                           const at::Tensor& weight, const std::optional<at::Tensor>& bias, double eps);

// {dx (when wanted), dweight, dbias} from our one-pass backward (rows of up to 768 features);
// `residual` as the kernel takes it (its pointers into tensors the caller keeps alive).
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward(const at::Tensor& dy, const at::Tensor& x,
                                                                   const at::Tensor& weight, const at::Tensor& mean,
                                                                   const at::Tensor& rstd, bool want_dx,
                                                                   const kernels::ResidualGrad& residual = {});

}  // namespace zs
