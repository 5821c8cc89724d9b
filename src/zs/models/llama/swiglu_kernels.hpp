// Llama's SwiGLU, silu(gate) * up, and its gradients as one elementwise kernel each way
// (swiglu_kernels.cu), on raw pointers so that nvcc compiles it without LibTorch's headers;
// swiglu_cuda.cpp checks the tensors and calls it. GPU builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "zs/kernels/float_kind.hpp"

namespace zs::kernels {

// All arrays hold n contiguous elements of `kind`. Per element, in fp32 as ATen computes silu, its
// backward and the products, each result rounded to `kind` where ATen's separate ops round it:
//   forward:  s = silu(gate) (rounded), out = s * up
//   backward: dup = dout * s, ds = dout * up (rounded), dgate = silu's backward of ds at gate
void launch_swiglu_forward(const void* gate, const void* up, void* out, int64_t n, FloatKind kind,
                           cudaStream_t stream);
void launch_swiglu_backward(const void* dout, const void* gate, const void* up, void* dgate, void* dup, int64_t n,
                            FloatKind kind, cudaStream_t stream);

}  // namespace zs::kernels
