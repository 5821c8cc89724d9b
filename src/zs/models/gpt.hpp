#pragma once
// GPT-2 (nanoGPT's model) as a plain torch::nn::Module: trains with any LibTorch optimizer, no engine
// needed. Parameters are named like nanoGPT / Hugging Face ("transformer.h.0.attn.c_attn.weight"), and
// the language-model head reuses transformer.wte.weight (tied, not a second parameter).
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <optional>

#include "zs/models/gpt_blocks.hpp"
#include "zs/models/gpt_config.hpp"

namespace zs {

// The "transformer" submodule: token and position embeddings, the blocks and the final LayerNorm.
class GPTTransformerImpl : public torch::nn::Module {
 public:
  explicit GPTTransformerImpl(const GPTConfig& config);

  torch::nn::Embedding wte{nullptr};  // [vocab_size, n_embd], also the LM head
  torch::nn::Embedding wpe{nullptr};  // [block_size, n_embd]
  torch::nn::ModuleList h{nullptr};   // n_layer Blocks
  LayerNorm ln_f{nullptr};
};
TORCH_MODULE(GPTTransformer);

struct GPTOutput {
  at::Tensor logits;  // [B, T, vocab] with targets, [B, 1, vocab] without; in the parameters' dtype
  at::Tensor loss;    // fp32 scalar; undefined when no targets were given
};

class GPTImpl : public torch::nn::Module {
 public:
  explicit GPTImpl(const GPTConfig& config);

  // idx: [B, T] int64 token ids with T <= block_size. With targets ([B, T] int64, -1 = ignore) returns
  // logits for every position and the mean cross-entropy computed in fp32; without, only the last
  // position's logits (all that sampling needs).
  GPTOutput forward(const at::Tensor& idx, const std::optional<at::Tensor>& targets = std::nullopt);

  // The loss alone, for training loops that want a tensor: forward(idx, targets).loss.
  at::Tensor loss(const at::Tensor& idx, const at::Tensor& targets);

  // Number of parameters; like nanoGPT, the position embeddings are left out by default
  // (the token embeddings stay in: they are the LM head's weights too).
  int64_t num_params(bool exclude_embeddings = true) const;

  // Training FLOPs per token at sequence length T: 6N + 12 * n_layer * n_embd * T (N = all parameters),
  // the weights' matmuls forward and backward plus attention's.
  double flops_per_token(int64_t T) const;

  // Appends max_new_tokens sampled tokens to idx ([B, T] int64), feeding at most block_size tokens of
  // context. temperature scales the logits; top_k > 0 keeps only the k most likely tokens. Runs in
  // eval mode without autograd, restoring the training flag afterwards.
  at::Tensor generate(at::Tensor idx, int64_t max_new_tokens, double temperature = 1.0, int64_t top_k = 0,
                      std::optional<at::Generator> generator = std::nullopt);

  const GPTConfig& config() const { return config_; }

  GPTTransformer transformer{nullptr};

 private:
  // nanoGPT's initialisation: N(0, 0.02) for Linear and Embedding weights, zero biases, LayerNorm
  // ones/zeros, and N(0, 0.02/sqrt(2 n_layer)) for every residual projection (c_proj.weight).
  // Draws from the default generator, so torch::manual_seed makes it reproducible.
  void init_weights();

  GPTConfig config_;
};
TORCH_MODULE(GPT);

}  // namespace zs
