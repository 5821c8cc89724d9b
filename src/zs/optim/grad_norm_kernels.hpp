// The sum of squares of many gradient tensors in a few launches (grad_norm_kernels.cu), on raw
// pointers so that nvcc compiles it without LibTorch's headers; grad_norm_cuda.cpp checks the
// tensors and calls it. GPU builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "zs/kernels/float_kind.hpp"

namespace zs::kernels {

struct NormSlot {
  const void* data;
  int64_t n;
};

constexpr int kNormBatchSlots = 64;  // slots per launch: keeps its arguments inside the 4 KiB limit

// Floats of scratch launch_squared_norm needs for `count` slots.
int64_t squared_norm_scratch(int count);

// out[0] = the sum of x * x over every element of every slot (all of `kind`), accumulated in fp32:
// each launch's blocks write their partial sums to `scratch`, and one block adds them up in a fixed
// order, so the result is the same bits run after run on one kind of GPU.
void launch_squared_norm(const NormSlot* slots, int count, FloatKind kind, float* scratch, float* out,
                         cudaStream_t stream);

}  // namespace zs::kernels
