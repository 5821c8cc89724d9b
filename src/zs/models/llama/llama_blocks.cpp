#include "zs/models/llama/llama_blocks.hpp"

#include <ATen/TensorOperators.h>
#include <ATen/ops/_fused_rms_norm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/rsqrt.h>
#include <ATen/ops/silu.h>

#include "zs/models/attention.hpp"
#include "zs/models/device_layers.hpp"
#include "zs/models/llama/llama_rope.hpp"

#ifdef ZS_WITH_CUDA
#include "zs/models/llama/swiglu_cuda.hpp"
#include "zs/models/norm_bias_cuda.hpp"
#endif

namespace zs {

LlamaRMSNormImpl::LlamaRMSNormImpl(int64_t dim, double eps_, c10::Device device) : eps(eps_) {
  weight = register_parameter("weight", at::empty({dim}, fp32_on(device)));
}

at::Tensor LlamaRMSNormImpl::forward(const at::Tensor& x) {
  // On GPUs LibTorch's fused kernel (one launch forward, one backward, fp32 inside); elsewhere
  // transformers' formula step by step, so that CPU runs equal transformers' exactly.
  if (x.is_cuda()) return std::get<0>(at::_fused_rms_norm(x, {x.size(-1)}, weight, eps));
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

std::pair<at::Tensor, at::Tensor> LlamaRMSNormImpl::add_and_forward(const at::Tensor& x, const at::Tensor& y) {
#ifdef ZS_WITH_CUDA
  if (fused_rms_norm_applies(x, y, weight)) return add_rms_norm_fused(x, y, weight, eps);
#endif
  const at::Tensor h = y.defined() ? x + y : x;
  return {h, forward(h)};
}

LlamaAttentionImpl::LlamaAttentionImpl(const LlamaConfig& config, c10::Device device)
    : num_heads(config.num_attention_heads),
      num_kv_heads(config.num_key_value_heads),
      head_dim(config.resolved_head_dim()),
      dropout(config.attention_dropout) {
  const int64_t h = config.hidden_size, bias = config.attention_bias;
  q_proj = register_module("q_proj", DeviceLinear(h, num_heads * head_dim, bias, device));
  k_proj = register_module("k_proj", DeviceLinear(h, num_kv_heads * head_dim, bias, device));
  v_proj = register_module("v_proj", DeviceLinear(h, num_kv_heads * head_dim, bias, device));
  o_proj = register_module("o_proj", DeviceLinear(num_heads * head_dim, h, bias, device));
}

at::Tensor LlamaAttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t B = x.size(0), T = x.size(1);
  // [B, T, heads * head_dim] -> [B, T, heads, head_dim] (rotated in this layout) -> SDPA's [B, heads, T, head_dim]
  auto heads = [&](const at::Tensor& t, int64_t n) { return t.view({B, T, n, head_dim}); };
  const std::vector<at::Tensor> qkv = shared_input_linears(x, {q_proj, k_proj, v_proj});
  const at::Tensor q = apply_rotary(heads(qkv[0], num_heads), cos, sin).transpose(1, 2);
  const at::Tensor k = apply_rotary(heads(qkv[1], num_kv_heads), cos, sin).transpose(1, 2);
  const at::Tensor v = heads(qkv[2], num_kv_heads).transpose(1, 2);
  // Grouped-query attention: SDPA shares each key/value head among its query heads by itself.
  const at::Tensor y = causal_attention(q, k, v, is_training() ? dropout : 0.0,
                                        /*enable_gqa=*/num_kv_heads != num_heads, /*owner=*/this);
  return o_proj->forward(y.transpose(1, 2).reshape({B, T, num_heads * head_dim}));
}

LlamaMLPImpl::LlamaMLPImpl(const LlamaConfig& config, c10::Device device) {
  const int64_t h = config.hidden_size, m = config.intermediate_size;
  gate_proj = register_module("gate_proj", DeviceLinear(h, m, config.mlp_bias, device));
  up_proj = register_module("up_proj", DeviceLinear(h, m, config.mlp_bias, device));
  down_proj = register_module("down_proj", DeviceLinear(m, h, config.mlp_bias, device));
}

at::Tensor LlamaMLPImpl::forward(const at::Tensor& x) { return down_proj->forward(gated(x)); }

at::Tensor LlamaMLPImpl::gated(const at::Tensor& x) {
  const std::vector<at::Tensor> gate_up = shared_input_linears(x, {gate_proj, up_proj});
  const at::Tensor &gate = gate_up[0], &up = gate_up[1];
#ifdef ZS_WITH_CUDA
  // On GPUs: silu and the product in one kernel each way (swiglu_cuda.hpp).
  if (fused_swiglu_applies(gate, up)) return swiglu_fused(gate, up);
#endif
  return at::silu(gate) * up;
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const LlamaConfig& config, c10::Device device) {
  input_layernorm = register_module("input_layernorm", LlamaRMSNorm(config.hidden_size, config.rms_norm_eps, device));
  self_attn = register_module("self_attn", LlamaAttention(config, device));
  post_attention_layernorm =
      register_module("post_attention_layernorm", LlamaRMSNorm(config.hidden_size, config.rms_norm_eps, device));
  mlp = register_module("mlp", LlamaMLP(config, device));
}

at::Tensor LlamaDecoderLayerImpl::forward(const at::Tensor& hidden, const at::Tensor& cos, const at::Tensor& sin) {
  // x is hidden itself, h = x + attn(...); on GPUs each norm is one node with the residual stream's
  // add, so the stream's gradient joins the norm's in one pass.
  const auto [x, normed] = input_layernorm->add_and_forward(hidden, at::Tensor());
  const auto [h, normed_h] = post_attention_layernorm->add_and_forward(x, self_attn->forward(normed, cos, sin));
  const at::Tensor gated = mlp->gated(normed_h);
  // Recomputed for backward under activation checkpointing, the layer's result is differentiated
  // but never read: the down projection and the residual add then build its autograd history
  // without their arithmetic (a seventh of the layer's GEMM work).
  if (result_is_unread(*this)) return sum_unevaluated(h, mlp->down_proj->forward_unevaluated(gated));
  return h + mlp->down_proj->forward(gated);
}

}  // namespace zs
