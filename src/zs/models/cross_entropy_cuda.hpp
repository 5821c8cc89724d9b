// token_cross_entropy's CUDA path (cross_entropy_cuda.cpp, GPU builds only): the kernels of
// cross_entropy_kernels.cu as an autograd function. Same values as ATen's fp32 cross-entropy within
// fp32 rounding (the sums are taken in another order); the same bits run after run.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace zs {

// logits [rows, vocab] contiguous on a GPU in float32, bfloat16 or float16, targets [rows] int64 on
// the same GPU, gradients wanted; and ZS_FUSED_CROSS_ENTROPY is not "0" (which leaves the loss to
// ATen, for comparisons).
bool fused_cross_entropy_applies(const at::Tensor& logits, const at::Tensor& targets);

// Mean over the rows whose target is not ignore_index (NaN when there are none, as ATen's).
at::Tensor cross_entropy_fused(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index);

}  // namespace zs
