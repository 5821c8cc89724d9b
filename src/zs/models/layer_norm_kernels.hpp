// LayerNorm's forward and its input's gradient over rows of up to 2,048 features
// (layer_norm_kernels.cu), on raw pointers so
// that nvcc compiles it without LibTorch's headers; norm_bias_cuda.cpp checks the tensors and calls
// it. GPU builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "zs/kernels/float_kind.hpp"

namespace zs::kernels {

constexpr int64_t kLayerNormMaxCols = 2048;

// x: rows x cols of `kind`, contiguous, cols a multiple of 8 and at most kLayerNormMaxCols, 16-byte
// aligned; weight (and bias, or null) of cols elements of the same kind. Per row, in fp32: mean,
// rstd = 1 / sqrt(biased variance + eps), y = (x - mean) * rstd * weight + bias, rounded to `kind`.
// With an addend (x's shape, or null) the row normalised is x + addend rounded to `kind`, which is
// also written to `sum`.
void launch_layer_norm_forward(const void* x, const void* addend, const void* weight, const void* bias, int64_t rows,
                               int64_t cols, float eps, FloatKind kind, void* y, void* sum, float* mean, float* rstd,
                               cudaStream_t stream);

// The input's gradient over the same rows, mean and rstd from the forward (dy, x and dx of `kind`,
// contiguous and 16-byte aligned):
//   dx = rstd * (dy * w - mean(dy * w) - xhat * mean(dy * w * xhat)),   xhat = (x - mean) * rstd.
// plus `residual` (x's shape, or null) before rounding. The weight's and bias's gradients are column
// sums (column_sums_kernels.hpp).
void launch_layer_norm_backward_dx(const void* dy, const void* x, const float* mean, const float* rstd,
                                   const void* weight, const void* residual, int64_t rows, int64_t cols,
                                   FloatKind kind, void* dx, cudaStream_t stream);

}  // namespace zs::kernels
