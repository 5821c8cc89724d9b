// Column sums of a [rows, cols] gradient (column_sums_kernels.cu): a Linear's bias gradient, and a
// LayerNorm's weight and bias gradients. On raw pointers so that nvcc compiles them without
// LibTorch's headers; norm_bias_cuda.cpp checks the tensors and calls them. GPU builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "zs/kernels/float_kind.hpp"

namespace zs::kernels {

// How many row blocks the sums are split into (each writes one fp32 row of partial sums per sum)
// for a grid of about 4 blocks per multiprocessor.
int column_sums_row_blocks(int64_t rows, int64_t cols, int multiprocessors);

// dy: rows x cols of `in_kind`, contiguous, cols a multiple of 8, 16-byte aligned. Per column c, in
// fp32: sum_dy[c] = sum over r of dy[r][c], and when x is given (same shape and kind as dy, with
// each row's mean and rstd as LayerNorm's forward saved them),
// sum_dy_xhat[c] = sum over r of dy[r][c] * (x[r][c] - mean[r]) * rstd[r].
// Written in `out_kind`. workspace: row_blocks * cols floats per sum (two with x).
void launch_column_sums(const void* dy, const void* x, const float* mean, const float* rstd, int64_t rows,
                        int64_t cols, FloatKind in_kind, int row_blocks, float* workspace, FloatKind out_kind,
                        void* sum_dy, void* sum_dy_xhat, cudaStream_t stream);

}  // namespace zs::kernels
