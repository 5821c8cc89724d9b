// Causal scaled-dot-product attention for the GPT and the Llama: ATen's SDPA, which picks its
// fastest kernel (cuDNN or flash on GPUs). Under activation checkpointing the forward keeps
// attention's output and softmax statistics for the recompute (zero/recompute_store.hpp), which
// then builds attention's autograd node around them instead of running the attention forward a
// second time; backward runs the kernel SDPA's own node would, on the same values, so gradients
// are unchanged. Kept: one output-sized tensor per layer beside the checkpointed input.
// ZS_KEEP_ATTENTION=0 recomputes attention like the rest of the layer.
#pragma once

#include <ATen/core/Tensor.h>

namespace zs {

// q: [B, heads, T, head_dim]; k, v: [B, kv_heads, T, head_dim] (kv_heads < heads with
// enable_gqa). `owner`: the calling layer (the recompute's layer finds what it kept by it).
at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double dropout_p,
                            bool enable_gqa, const void* owner);

}  // namespace zs
