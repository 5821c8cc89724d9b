// LayerNorm's forward over rows of up to 2,048 features, and its backward over up to 768
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
void launch_layer_norm_forward(const void* x, const void* weight, const void* bias, int64_t rows, int64_t cols,
                               float eps, FloatKind kind, void* y, float* mean, float* rstd, cudaStream_t stream);

// The backward over rows of up to kLayerNormBackwardMaxCols features (the row's gradient and
// normalised input stay in registers beside the column sums), mean and rstd from the forward:
// dx (of `kind`; skipped when null) and, for the weight and bias gradients, partial column sums in
// `partial` (2 x row_blocks x cols floats: sum of dy, then of dy * xhat) for
// launch_finish_column_sums (column_sums_kernels.hpp) to add up.
constexpr int64_t kLayerNormBackwardMaxCols = 768;
int layer_norm_backward_row_blocks(int64_t rows, int multiprocessors);
void launch_layer_norm_backward(const void* dy, const void* x, const float* mean, const float* rstd,
                                const void* weight, int64_t rows, int64_t cols, FloatKind kind, int row_blocks,
                                void* dx, float* partial, cudaStream_t stream);

}  // namespace zs::kernels
