// LayerNorm's forward over rows of up to 2,048 features, and its backward over up to 768
// (layer_norm_kernels.cu), on raw pointers so that nvcc compiles it without LibTorch's headers;
// norm_bias_cuda.cpp and residual_norm_cuda.cpp check the tensors and call them. Either may take a
// residual add in the same pass: the forward normalises h = x + dropout(branch) (and writes h and
// the dropout's mask), the backward adds h's gradient from its other uses and hands the branch its
// gradient through the mask. GPU builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "zs/kernels/float_kind.hpp"
#include "zs/kernels/philox_draws.hpp"

namespace zs::kernels {

// h = x + dropout(branch): each element of branch kept with probability `keep` (then scaled by
// 1 / keep, rounded to the element type as a separate dropout would be) from one Philox draw.
struct ResidualAdd {
  const void* branch = nullptr;   // rows x cols of the same kind as x
  void* sum = nullptr;            // h, written
  uint8_t* keep_mask = nullptr;   // 1 kept / 0 dropped per element, written; null: nothing dropped
  float keep = 1.f;
  PhiloxDraws draws;              // reserve layer_norm_draws_per_thread(cols) of them per launch
};

// The backward of a ResidualAdd whose h the LayerNorm normalised: dx becomes h's whole gradient,
// dh_other + the norm's input gradient (rounded first, as autograd would add them), which is also
// x's; the branch's is that times the mask / keep.
struct ResidualGrad {
  const void* dh_other = nullptr;      // h's gradient from its other uses (rows x cols); null: none
  const uint8_t* keep_mask = nullptr;  // the forward's; null when nothing was dropped (dbranch = dx)
  float keep = 1.f;
  void* dbranch = nullptr;             // written when keep_mask is given
};

constexpr int64_t kLayerNormMaxCols = 2048;

// x: rows x cols of `kind`, contiguous, cols a multiple of 8 and at most kLayerNormMaxCols, 16-byte
// aligned; weight (and bias, or null) of cols elements of the same kind. Per row, in fp32: mean,
// rstd = 1 / sqrt(biased variance + eps), y = (x - mean) * rstd * weight + bias, rounded to `kind`.
// With a residual (branch given): the same over h = x + dropout(branch), h written beside y; with
// no weight, h alone (no normalisation: y, mean and rstd untouched).
void launch_layer_norm_forward(const void* x, const void* weight, const void* bias, int64_t rows, int64_t cols,
                               float eps, FloatKind kind, void* y, float* mean, float* rstd, cudaStream_t stream,
                               const ResidualAdd& residual = {});

// The Philox values each thread of a residual forward draws (the generator's offset increment).
uint64_t layer_norm_draws_per_thread(int64_t cols);

// The backward over rows of up to kLayerNormBackwardMaxCols features (the row's gradient and
// normalised input stay in registers beside the column sums), mean and rstd from the forward:
// dx (of `kind`; skipped when null) and, for the weight and bias gradients, partial column sums in
// `partial` (2 x row_blocks x cols floats: sum of dy, then of dy * xhat) for
// launch_finish_column_sums (column_sums_kernels.hpp) to add up.
constexpr int64_t kLayerNormBackwardMaxCols = 768;
int layer_norm_backward_row_blocks(int64_t rows, int multiprocessors);
void launch_layer_norm_backward(const void* dy, const void* x, const float* mean, const float* rstd,
                                const void* weight, int64_t rows, int64_t cols, FloatKind kind, int row_blocks,
                                void* dx, float* partial, cudaStream_t stream, const ResidualGrad& residual = {});

}  // namespace zs::kernels
