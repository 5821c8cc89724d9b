#pragma once
// Hyper-parameters of the Llama family, with the names and meanings of Hugging Face's LlamaConfig
// (config.json), and the shapes of well-known checkpoints. Reading and writing config.json lives
// in the interchange layer (zs/hf/hf_config.hpp); this is plain data.
#include <cstdint>
#include <string>
#include <vector>

namespace zs {

// Rotary embeddings' frequency scaling. "default" is none; "llama3" is Llama 3.1's: frequencies
// with wavelengths beyond original_max_position_embeddings / low_freq_factor are divided by
// `factor`, those below original_max_position_embeddings / high_freq_factor are kept, and the band
// between is interpolated smoothly.
struct RopeScaling {
  std::string type = "default";   // "default" or "llama3"
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct LlamaConfig {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;   // < num_attention_heads: grouped-query attention
  int64_t head_dim = 0;               // 0: hidden_size / num_attention_heads
  int64_t max_position_embeddings = 4096;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool attention_bias = false;        // biases in q/k/v/o_proj
  bool mlp_bias = false;              // biases in gate/up/down_proj
  double attention_dropout = 0.0;
  bool tie_word_embeddings = false;   // lm_head reuses model.embed_tokens.weight
  double initializer_range = 0.02;    // std of the normal initialisation of matrices
  std::string hidden_act = "silu";    // the only activation Llama uses
  // Carried through to an exported config.json (generation needs them; training does not).
  int64_t bos_token_id = 1;
  std::vector<int64_t> eos_token_id = {2};
  int64_t pad_token_id = -1;          // -1: none

  int64_t resolved_head_dim() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }

  // Llama 2 7B (meta-llama/Llama-2-7b-hf).
  static LlamaConfig llama2_7b();
  // Llama 3 8B (meta-llama/Meta-Llama-3-8B): GQA with 8 key/value heads, 128,256 tokens.
  static LlamaConfig llama3_8b();
  // Llama 3.1 8B: Llama 3 8B's shape with the "llama3" rope scaling to 128k positions.
  static LlamaConfig llama3_1_8b();
  // Llama 3.2 1B: tied embeddings, "llama3" rope scaling (factor 32).
  static LlamaConfig llama3_2_1b();
  // TinyLlama 1.1B (TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T): 22 layers, 4 key/value heads.
  static LlamaConfig tinyllama_1_1b();

  // Preset by name (case-insensitive): llama2-7b, llama3-8b, llama3.1-8b, llama3.2-1b, tinyllama-1.1b.
  static LlamaConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();

  // Throws std::invalid_argument naming the field when the numbers do not make a valid model
  // (including rope scaling types other than "default" and "llama3").
  void validate() const;

  // Parameter count from the shapes alone (the tied head counted once).
  int64_t num_parameters() const;
};

}  // namespace zs
