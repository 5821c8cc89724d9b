#pragma once
// Rotary position embeddings as Llama uses them: inverse frequencies theta^(-2i/d) (optionally
// with the "llama3" scaling), cos/sin tables over positions, and the rotation of query and key
// heads ("rotate half": the first and second halves of each head form the pairs). Computed in
// fp32, as Hugging Face does, then cast to the activations' dtype.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "zs/models/llama/llama_config.hpp"

namespace zs {

// [head_dim / 2] fp32 inverse frequencies on `device`, scaled as config.rope_scaling says.
at::Tensor rope_inverse_frequencies(const LlamaConfig& config, c10::Device device = c10::kCPU);

struct RopeTables {
  at::Tensor cos;   // [T, head_dim] in the activations' dtype
  at::Tensor sin;
};

// Tables for positions 0 .. T-1.
RopeTables rope_tables(const LlamaConfig& config, int64_t T, at::ScalarType dtype, c10::Device device);

// x: [B, T, heads, head_dim] (the projection's layout); cos, sin: [T, head_dim].
// x * cos + rotate_half(x) * sin. On CUDA tensors in GPU builds one fused kernel each way
// (llama_rope_cuda.hpp), with the same values as the ATen formula of apply_rotary_reference.
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);
at::Tensor apply_rotary_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace zs
