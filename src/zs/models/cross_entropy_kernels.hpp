// Cross-entropy over a vocabulary straight from 16-bit logits (cross_entropy_kernels.cu), on raw
// pointers so that nvcc compiles it without LibTorch's headers; cross_entropy_cuda.cpp checks the
// tensors and calls it. GPU builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "zs/kernels/float_kind.hpp"

namespace zs::kernels {

// logits: rows x vocab of `kind`, contiguous; targets: int64 per row (ignore_index: no loss).
// Per row, in fp32: lse = log(sum(exp(logits))), loss = lse - logits[target] (0 when ignored).
// A target outside [0, vocab) other than ignore_index stops the kernel (a device-side trap).
void launch_cross_entropy_forward(const void* logits, const int64_t* targets, int64_t rows, int64_t vocab,
                                  int64_t ignore_index, FloatKind kind, float* losses, float* lse, cudaStream_t stream);

// dlogits = (softmax(logits) - onehot(target)) * grad / count per row (0 for ignored rows), where
// grad (the loss's incoming gradient) and count (targets not ignored) are fp32 values on the device.
void launch_cross_entropy_backward(const void* logits, const int64_t* targets, const float* lse, const float* grad,
                                   const float* count, int64_t rows, int64_t vocab, int64_t ignore_index,
                                   FloatKind kind, void* dlogits, cudaStream_t stream);

}  // namespace zs::kernels
