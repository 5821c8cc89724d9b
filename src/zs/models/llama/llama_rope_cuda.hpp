// apply_rotary's fused CUDA path (llama_rope_cuda.cpp, GPU builds only).
#pragma once

#include <ATen/core/Tensor.h>

namespace zs {

// Whether the fused kernel takes these tensors: CUDA, float32/bfloat16/float16 throughout,
// x [B, T, heads, head_dim] with head_dim a multiple of 16 and a unit stride on it, tables
// [T, head_dim] contiguous and 16-byte aligned, without gradients.
bool fused_rotary_applies(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// x * cos + rotate_half(x) * sin with its gradient, one kernel each way; a contiguous result.
at::Tensor apply_rotary_fused(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace zs
