#pragma once
// Hyper-parameters of the GPT-2 family (nanoGPT's GPTConfig) and the standard presets.
#include <cstdint>
#include <string>

namespace zs {

struct GPTConfig {
  int64_t block_size = 1024;  // longest sequence (number of learned positions)
  int64_t vocab_size = 50304; // GPT-2's 50257 padded up to a multiple of 64 for speed
  int64_t n_layer = 12;
  int64_t n_head = 12;
  int64_t n_embd = 768;
  double dropout = 0.0;
  bool bias = true;           // biases in Linear and LayerNorm layers
  // The MLP's GELU: "gelu" (exact, erf form; nanoGPT's) or "gelu_tanh" (the tanh approximation
  // GPT-2's own checkpoints were trained with, Hugging Face's "gelu_new").
  std::string activation = "gelu";

  static GPTConfig gpt2_124m();  // 12 layers, 12 heads, 768 wide
  static GPTConfig gpt2_350m();  // 24 layers, 16 heads, 1024 wide
  static GPTConfig gpt2_774m();  // 36 layers, 20 heads, 1280 wide
  static GPTConfig gpt2_1_5b();  // 48 layers, 25 heads, 1600 wide

  // Preset by name: "gpt2" / "124m", "gpt2-medium" / "350m", "gpt2-large" / "774m", "gpt2-xl" / "1.5b".
  static GPTConfig preset(const std::string& name);

  // Throws std::invalid_argument when the numbers do not make a valid model.
  void validate() const;
};

}  // namespace zs
