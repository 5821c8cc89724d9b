// The fused rotary-embedding kernel (llama_rope_kernels.cu), on raw pointers so that nvcc compiles
// it without LibTorch's headers; llama_rope_cuda.cpp checks the tensors and calls it. GPU builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "zs/kernels/float_kind.hpp"

namespace zs::kernels {

// x: [B, T, heads, head_dim] with the given element strides (head_dim's stride is 1);
// cos, sin: [T, head_dim] contiguous; out: [B, T, heads, head_dim] contiguous, all of `kind`.
// Forward:  out = x * cos + rotate_half(x) * sin.
// Backward (x is the incoming gradient): out = the gradient of that with respect to x.
// head_dim is a multiple of 16 and x, cos, sin, out and the strides are 16-byte aligned.
struct RopeShape {
  int64_t batch, seq, heads, head_dim;
  int64_t stride_batch, stride_seq, stride_head;
};
void launch_rotary(const void* x, const RopeShape& shape, const void* cos, const void* sin, void* out,
                   FloatKind kind, bool backward, cudaStream_t stream);

}  // namespace zs::kernels
