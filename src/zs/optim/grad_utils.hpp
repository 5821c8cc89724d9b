// Gradient reductions the ZeRO layer builds clipping and overflow checks from. Both return
// 0-dim fp32 tensors on the input's device and never wait for the device.
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

namespace zs {

// Sum of squares of all elements, accumulated in fp32 also for bf16/fp16 input (never a whole
// fp32 copy: CUDA reads 16-bit input directly, CPU converts a bounded chunk at a time).
at::Tensor squared_norm(const at::Tensor& flat);

// The same over every element of several tensors. On one GPU, for contiguous tensors of one dtype,
// a few launches for all of them (grad_norm_cuda.hpp) rather than a reduction each.
at::Tensor squared_norm(const std::vector<at::Tensor>& tensors);

// 1.0 if any element is inf or nan, else 0.0.
at::Tensor has_inf_or_nan(const at::Tensor& t);

}  // namespace zs
