#pragma once
// Llama (Hugging Face's LlamaForCausalLM) as a plain torch::nn::Module: RMSNorm, rotary embeddings
// (with the "llama3" scaling), SwiGLU MLP, grouped-query causal attention, optional attention/MLP
// biases, tied or untied output head. Parameter names are Hugging Face's
// ("model.embed_tokens.weight", "model.layers.3.self_attn.q_proj.weight", "model.norm.weight",
// "lm_head.weight"), so a model directory's safetensors load by name (zs/hf/). Trains with any
// LibTorch optimizer, no engine needed.
//
//   torch::manual_seed(0);
//   zs::Llama model(zs::LlamaConfig::preset("tinyllama-1.1b"));          // on the host, initialised
//   zs::Llama big(zs::LlamaConfig::llama2_7b(), at::kMeta);              // no memory, no values yet
//   big->init_parameter("model.norm.weight", tensor);                    // one parameter's initial value
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <optional>
#include <string>

#include "zs/models/llama/llama_blocks.hpp"
#include "zs/models/llama/llama_config.hpp"

namespace zs {

// Targets equal to this are left out of the loss (Hugging Face's and PyTorch's default).
inline constexpr int64_t kLlamaIgnoreIndex = -100;

// The "model" submodule: embeddings, decoder layers, final norm.
class LlamaModelImpl : public torch::nn::Module {
 public:
  LlamaModelImpl(const LlamaConfig& config, c10::Device device);
  // input_ids: [B, T] int64 -> final hidden states [B, T, hidden] (after the last norm).
  at::Tensor forward(const at::Tensor& input_ids);

  DeviceEmbedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};   // num_hidden_layers LlamaDecoderLayers
  LlamaRMSNorm norm{nullptr};

 private:
  LlamaConfig config_;
};
TORCH_MODULE(LlamaModel);

struct LlamaOutput {
  at::Tensor logits;  // [B, T, vocab] in the parameters' dtype
  at::Tensor loss;    // fp32 scalar: mean cross-entropy over the counted targets; undefined without targets
};

class LlamaImpl : public torch::nn::Module {
 public:
  // Parameters are created on `device`. Anywhere but at::kMeta they are initialised at once (see
  // init_parameter); on at::kMeta they take no memory and hold no values until an engine (or
  // the caller) materialises them and calls init_parameter. The initial values depend on the
  // default CPU generator's state at construction (torch::manual_seed) and not on the order or
  // the grouping in which parameters are initialised.
  explicit LlamaImpl(const LlamaConfig& config, c10::Device device = c10::kCPU);

  // Two ways to give targets, both with mean cross-entropy in fp32 and kLlamaIgnoreIndex left out:
  //  - forward(input_ids, targets): targets[b, t] is the token that should follow position t
  //    (next-token targets already shifted, as GlobalBatchSampler's y);
  //  - forward_with_labels(input_ids, labels): Hugging Face's convention, labels aligned with the
  //    inputs (usually labels = input_ids), shifted by one here: position t predicts labels[t + 1].
  // Without targets only the logits are computed.
  LlamaOutput forward(const at::Tensor& input_ids, const std::optional<at::Tensor>& targets = std::nullopt);
  LlamaOutput forward_with_labels(const at::Tensor& input_ids, const at::Tensor& labels);
  // forward(input_ids, targets).loss, for training loops.
  at::Tensor loss(const at::Tensor& input_ids, const at::Tensor& targets);

  // Fills `value` (a parameter's shape, any device and dtype) with the initial value of parameter
  // `name` ("model.layers.0.mlp.up_proj.weight"), as Hugging Face initialises Llama: matrices and
  // embeddings N(0, initializer_range), norms one, biases zero. The random values come from a
  // generator of value's device seeded from this model's seed and the name alone, so a parameter
  // materialised on its own (on one rank, one unit at a time) gets the same value as in a model
  // initialised whole on the same kind of device. A no-op on meta tensors. Throws
  // std::invalid_argument for a name the model does not have or a shape that differs.
  void init_parameter(const std::string& name, at::Tensor value) const;
  // init_parameter for every parameter, in place.
  void reset_parameters();

  int64_t num_params() const;
  // Training FLOPs per token at sequence length T: 6N plus attention's 12 * layers * heads * head_dim * T.
  double flops_per_token(int64_t T) const;
  const LlamaConfig& config() const { return config_; }
  uint64_t init_seed() const { return init_seed_; }

  LlamaModel model{nullptr};
  DeviceLinear lm_head{nullptr};   // null when tie_word_embeddings: the head is model.embed_tokens.weight

 private:
  LlamaConfig config_;
  uint64_t init_seed_ = 0;
};
TORCH_MODULE(Llama);

}  // namespace zs
