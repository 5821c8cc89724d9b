#pragma once
// The pieces of a GPT-2 transformer block as plain torch::nn::Modules. Parameter names follow
// nanoGPT / Hugging Face (ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj), so a state
// dict exported from here loads there.
//
// Every parameter is created on the device the model is built on and left for the model to
// initialise (GPTImpl): on at::kMeta a module takes no memory, so an engine can materialise a
// GPT-2 1.5B one block at a time straight into its shards on the GPUs.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <utility>

#include "zs/models/device_layers.hpp"
#include "zs/models/gpt/gpt_config.hpp"
#include "zs/zero/unit.hpp"

namespace zs {

// LayerNorm whose bias is optional: with bias=false no "bias" parameter exists at all.
class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t n_embd, bool bias, c10::Device device);
  at::Tensor forward(const at::Tensor& x);
  // {h, forward(h)} with h = x + y (y undefined: h is x): the residual stream's add and this norm,
  // on GPUs in training as one pass each way, h's own gradient added inside the norm's backward
  // (norm_bias_cuda.hpp).
  std::pair<at::Tensor, at::Tensor> add_and_forward(const at::Tensor& x, const at::Tensor& y);

  at::Tensor weight;
  at::Tensor bias;  // undefined when built with bias=false
};
TORCH_MODULE(LayerNorm);

// Multi-head causal self-attention through at::scaled_dot_product_attention (flash/efficient kernels
// where the device has them; under activation checkpointing kept for the recompute, attention.hpp).
class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(const GPTConfig& config, c10::Device device);
  at::Tensor forward(const at::Tensor& x);  // x: [B, T, C]

  DeviceLinear c_attn{nullptr};  // C -> 3C (query, key, value)
  DeviceLinear c_proj{nullptr};  // C -> C
  int64_t n_head;
  int64_t n_embd;
  double dropout;
};
TORCH_MODULE(CausalSelfAttention);

// Position-wise feed-forward: C -> 4C -> GELU (exact, or tanh-approximated: GPTConfig::activation) -> C.
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(const GPTConfig& config, c10::Device device);
  at::Tensor forward(const at::Tensor& x);
  // The same with c_proj's values left out (DeviceLinear::forward_unevaluated).
  at::Tensor forward_unevaluated(const at::Tensor& x);

  DeviceLinear c_fc{nullptr};
  DeviceLinear c_proj{nullptr};
  double dropout;
  std::string gelu_approximate;   // "none" or "tanh"
};
TORCH_MODULE(MLP);

// Pre-norm residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). Marked as a ZeRO-3 unit (its
// parameters are gathered and released as a whole): call it through the Block holder.
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const GPTConfig& config, c10::Device device);
  at::Tensor forward(const at::Tensor& x);

  LayerNorm ln_1{nullptr};
  CausalSelfAttention attn{nullptr};
  LayerNorm ln_2{nullptr};
  MLP mlp{nullptr};
};
ZS_UNIT_MODULE(Block);

}  // namespace zs
