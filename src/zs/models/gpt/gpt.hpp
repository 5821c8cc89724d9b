#pragma once
// GPT-2 (nanoGPT's model) as a plain torch::nn::Module: trains with any LibTorch optimizer, no engine
// needed. Parameters are named like nanoGPT / Hugging Face ("transformer.h.0.attn.c_attn.weight"), and
// the language-model head reuses transformer.wte.weight (tied, not a second parameter).
//
//   torch::manual_seed(0);
//   zs::GPT model(zs::GPTConfig::gpt2_124m());                     // on the host, initialised
//   zs::GPT big(zs::GPTConfig::gpt2_1_5b(), at::kMeta);            // no memory, no values yet
//   options.meta_init = [&big](const std::string& name, at::Tensor& value) { big->init_parameter(name, value); };
//   zs::Engine engine(big, config, world, options);                // made and initialised on the GPUs
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <optional>
#include <string>

#include "zs/models/gpt/gpt_blocks.hpp"
#include "zs/models/gpt/gpt_config.hpp"

namespace zs {

// The "transformer" submodule: token and position embeddings, the blocks and the final LayerNorm.
class GPTTransformerImpl : public torch::nn::Module {
 public:
  GPTTransformerImpl(const GPTConfig& config, c10::Device device);

  DeviceEmbedding wte{nullptr};  // [vocab_size, n_embd], also the LM head
  DeviceEmbedding wpe{nullptr};  // [block_size, n_embd]
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
  // Parameters are created on `device`.
  //  - On the CPU they are initialised at once (nanoGPT's scheme, see init_parameter) from the
  //    default CPU generator, drawn in the order the layers are built: torch::manual_seed before
  //    construction reproduces them, and they are the values seeded host models always had.
  //  - On at::kMeta they take no memory and hold no values until an engine (or the caller)
  //    materialises them and calls init_parameter.
  //  - On another device (a GPU) they are initialised there at once with init_parameter.
  explicit GPTImpl(const GPTConfig& config, c10::Device device = c10::kCPU);

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

  // Fills `value` (a parameter's shape, any device and dtype) with an initial value of parameter
  // `name` ("transformer.h.0.attn.c_attn.weight") drawn as nanoGPT initialises a GPT: N(0, 0.02)
  // for Linear and Embedding weights, N(0, 0.02/sqrt(2 n_layer)) for the residual projections
  // (c_proj.weight), zero biases, LayerNorm weights one. The random values come from a generator
  // of value's device seeded from this model's init seed and the name alone, so a parameter
  // materialised on its own (on one rank, one unit at a time) gets the same value whatever the
  // order. They have the CPU constructor's distribution, not its exact values (those are drawn in
  // sequence from the default generator). A no-op on meta tensors. Throws std::invalid_argument
  // for a name the model does not have or a shape that differs.
  void init_parameter(const std::string& name, at::Tensor value) const;

  const GPTConfig& config() const { return config_; }
  // The seed init_parameter draws from: taken from the default CPU generator when the model is
  // built anywhere but on the CPU (the CPU constructor leaves that generator's sequence as it was).
  uint64_t init_seed() const { return init_seed_; }

  GPTTransformer transformer{nullptr};

 private:
  // The CPU constructor's initialisation, in place, from the default generator in sequence.
  void init_in_sequence();

  GPTConfig config_;
  uint64_t init_seed_ = 0;
};
TORCH_MODULE(GPT);

}  // namespace zs
