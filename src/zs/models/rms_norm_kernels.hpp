// RMSNorm's forward (with the residual add before it) and backward (the input's gradient with the
// residual stream's added, and the weight's) over rows of up to 8,192 features
// (rms_norm_kernels.cu), on raw pointers so that nvcc compiles it without LibTorch's headers;
// norm_bias_cuda.cpp checks the tensors and calls it. GPU builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "zs/kernels/float_kind.hpp"

namespace zs::kernels {

constexpr int64_t kRmsNormMaxCols = 8192;

// x: rows x cols of `kind`, contiguous, cols a multiple of 8 and at most kRmsNormMaxCols, 16-byte
// aligned; weight: cols elements of the same kind. Per row, in fp32: s = x (+ addend, rounded to
// `kind` as a separate add rounds it, written to `sum`), rstd = 1 / sqrt(mean(s^2) + eps),
// y = s * rstd * weight rounded to `kind`. addend and sum: both null, or both x's shape.
void launch_rms_norm_forward(const void* x, const void* addend, const void* weight, int64_t rows, int64_t cols,
                             float eps, FloatKind kind, void* y, void* sum, float* rstd, int sm_count,
                             cudaStream_t stream);

// The backward over the same rows (s: the rows normalised, rstd from the forward; dy, s and dx of
// `kind`, contiguous and 16-byte aligned):
//   dx = rstd * (dy * w - shat * mean(dy * w * shat)) (+ residual, x's shape, before the one
//   rounding),   shat = s * rstd;
//   dweight = the column sums of dy * shat, in `weight_grad_kind` (null: not wanted).
// `workspace`: rms_norm_backward_workspace(rows, cols, sm_count) floats.
int64_t rms_norm_backward_workspace(int64_t rows, int64_t cols, int sm_count);
void launch_rms_norm_backward(const void* dy, const void* s, const float* rstd, const void* weight,
                              const void* residual, int64_t rows, int64_t cols, FloatKind kind, void* dx,
                              void* dweight, FloatKind weight_grad_kind, float* workspace, int sm_count,
                              cudaStream_t stream);

}  // namespace zs::kernels
