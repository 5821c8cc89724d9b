#pragma once
// The pieces of a Llama decoder layer as plain torch::nn::Modules, with the module and parameter
// names of Hugging Face's LlamaDecoderLayer (input_layernorm, self_attn.{q,k,v,o}_proj,
// post_attention_layernorm, mlp.{gate,up,down}_proj), so weights move between the two by name.
//
// Every parameter is created uninitialised on the device the model is built on (LlamaImpl fills
// them): on at::kMeta a module takes no memory at all, so a 7B model is built in milliseconds and
// an engine can materialise it one unit at a time.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <utility>

#include "zs/models/device_layers.hpp"
#include "zs/models/llama/llama_config.hpp"
#include "zs/zero/unit.hpp"

namespace zs {

// weight * x / sqrt(mean(x^2) + eps), normalised in fp32 and scaled in the input's dtype.
class LlamaRMSNormImpl : public torch::nn::Module {
 public:
  LlamaRMSNormImpl(int64_t dim, double eps, c10::Device device);
  at::Tensor forward(const at::Tensor& x);
  // {h, forward(h)} with h = x + y (y undefined: h = x). On GPUs one autograd node on our kernels
  // (norm_bias_cuda.hpp's add_rms_norm_fused), else the add and forward.
  std::pair<at::Tensor, at::Tensor> add_and_forward(const at::Tensor& x, const at::Tensor& y);

  at::Tensor weight;
  double eps;
};
TORCH_MODULE(LlamaRMSNorm);

// Causal self-attention with rotary embeddings and grouped-query attention: num_key_value_heads
// key/value heads, each shared by num_attention_heads / num_key_value_heads query heads.
class LlamaAttentionImpl : public torch::nn::Module {
 public:
  LlamaAttentionImpl(const LlamaConfig& config, c10::Device device);
  // x: [B, T, hidden]; cos, sin: [T, head_dim] (rope_tables).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

  DeviceLinear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  int64_t num_heads, num_kv_heads, head_dim;
  double dropout;
};
TORCH_MODULE(LlamaAttention);

// SwiGLU feed-forward: down(silu(gate(x)) * up(x)).
class LlamaMLPImpl : public torch::nn::Module {
 public:
  LlamaMLPImpl(const LlamaConfig& config, c10::Device device);
  at::Tensor forward(const at::Tensor& x);
  // silu(gate(x)) * up(x): the down projection's input.
  at::Tensor gated(const at::Tensor& x);

  DeviceLinear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(LlamaMLP);

// Pre-norm residual layer: h = x + attn(norm(x)); h + mlp(norm(h)). The rotary tables come in as
// inputs (computed once per forward by the model), so the layer takes three tensors. A ZeRO-3
// unit: its parameters are gathered and released together; the model calls it through
// `->as<LlamaDecoderLayer>()->forward(h, cos, sin)`, which an engine can run its way.
class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  LlamaDecoderLayerImpl(const LlamaConfig& config, c10::Device device);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& cos, const at::Tensor& sin);

  LlamaRMSNorm input_layernorm{nullptr};
  LlamaAttention self_attn{nullptr};
  LlamaRMSNorm post_attention_layernorm{nullptr};
  LlamaMLP mlp{nullptr};
};
ZS_UNIT_MODULE(LlamaDecoderLayer);

}  // namespace zs
