// Llama's SwiGLU, silu(gate) * up, on our CUDA kernel (swiglu_cuda.cpp, GPU builds only).
#pragma once

#include <ATen/core/Tensor.h>

namespace zs {

// Whether the fused kernel takes these: CUDA tensors of one shape and one float dtype (float32,
// bfloat16 or float16), and ZS_FUSED_SWIGLU not "0".
bool fused_swiglu_applies(const at::Tensor& gate, const at::Tensor& up);

// at::silu(gate) * up with its gradient, one kernel each way (ATen: silu and a multiply forward,
// two multiplies and silu's backward back); the same values as ATen's ops, rounded where they
// round. Saves gate and up for backward, not silu(gate).
at::Tensor swiglu_fused(const at::Tensor& gate, const at::Tensor& up);

}  // namespace zs
