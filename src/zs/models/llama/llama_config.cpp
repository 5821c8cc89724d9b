#include "zs/models/llama/llama_config.hpp"

#include <stdexcept>

#include "zs/base/strings.hpp"

namespace zs {

LlamaConfig LlamaConfig::llama2_7b() {
  LlamaConfig c;  // the defaults are Llama 2 7B's
  return c;
}

LlamaConfig LlamaConfig::llama3_8b() {
  LlamaConfig c;
  c.vocab_size = 128256;
  c.intermediate_size = 14336;
  c.num_key_value_heads = 8;
  c.max_position_embeddings = 8192;
  c.rope_theta = 500000.0;
  c.bos_token_id = 128000;
  c.eos_token_id = {128001};
  return c;
}

LlamaConfig LlamaConfig::llama3_1_8b() {
  LlamaConfig c = llama3_8b();
  c.max_position_embeddings = 131072;
  c.rope_scaling.type = "llama3";
  c.rope_scaling.factor = 8.0;
  c.rope_scaling.low_freq_factor = 1.0;
  c.rope_scaling.high_freq_factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 8192;
  return c;
}

LlamaConfig LlamaConfig::llama3_2_1b() {
  LlamaConfig c = llama3_1_8b();
  c.hidden_size = 2048;
  c.intermediate_size = 8192;
  c.num_hidden_layers = 16;
  c.head_dim = 64;
  c.rope_scaling.factor = 32.0;
  c.tie_word_embeddings = true;
  return c;
}

LlamaConfig LlamaConfig::tinyllama_1_1b() {
  LlamaConfig c;
  c.hidden_size = 2048;
  c.intermediate_size = 5632;
  c.num_hidden_layers = 22;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 4;
  c.max_position_embeddings = 2048;
  return c;
}

std::vector<std::string> LlamaConfig::preset_names() {
  return {"llama2-7b", "llama3-8b", "llama3.1-8b", "llama3.2-1b", "tinyllama-1.1b"};
}

LlamaConfig LlamaConfig::preset(const std::string& given) {
  const std::string name = ascii_lowercase(given);
  if (name == "llama2-7b") return llama2_7b();
  if (name == "llama3-8b") return llama3_8b();
  if (name == "llama3.1-8b") return llama3_1_8b();
  if (name == "llama3.2-1b") return llama3_2_1b();
  if (name == "tinyllama-1.1b") return tinyllama_1_1b();
  std::string known;
  for (const std::string& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown Llama preset '" + given + "' (known: " + known + ")");
}

void LlamaConfig::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("LlamaConfig: " + what); };
  auto positive = [&](const char* name, int64_t v) {
    if (v <= 0) fail(std::string(name) + " must be positive, got " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("max_position_embeddings", max_position_embeddings);
  if (head_dim < 0) fail("head_dim must be positive (or 0: hidden_size / num_attention_heads), got " + std::to_string(head_dim));
  if (head_dim == 0 && hidden_size % num_attention_heads != 0)
    fail("hidden_size (" + std::to_string(hidden_size) + ") must be a multiple of num_attention_heads (" +
         std::to_string(num_attention_heads) + ") when head_dim is not given");
  if (resolved_head_dim() % 2 != 0) fail("head_dim must be even for rotary embeddings, got " + std::to_string(resolved_head_dim()));
  if (num_attention_heads % num_key_value_heads != 0)
    fail("num_attention_heads (" + std::to_string(num_attention_heads) + ") must be a multiple of num_key_value_heads (" +
         std::to_string(num_key_value_heads) + ")");
  if (!(rms_norm_eps > 0)) fail("rms_norm_eps must be positive");
  if (!(rope_theta > 0)) fail("rope_theta must be positive");
  if (!(initializer_range >= 0)) fail("initializer_range must not be negative");
  if (attention_dropout < 0.0 || attention_dropout >= 1.0) fail("attention_dropout must be in [0, 1)");
  if (hidden_act != "silu") fail("hidden_act \"" + hidden_act + "\" is not supported (Llama uses \"silu\")");
  if (rope_scaling.type == "llama3") {
    const RopeScaling& r = rope_scaling;
    if (!(r.factor > 0)) fail("rope_scaling.factor must be positive");
    if (!(r.low_freq_factor > 0) || !(r.high_freq_factor > r.low_freq_factor))
      fail("rope_scaling needs 0 < low_freq_factor < high_freq_factor, got " + std::to_string(r.low_freq_factor) + " and " +
           std::to_string(r.high_freq_factor));
    if (r.original_max_position_embeddings <= 0) fail("rope_scaling.original_max_position_embeddings must be positive");
  } else if (rope_scaling.type != "default") {
    fail("rope_scaling type \"" + rope_scaling.type + "\" is not supported (supported: \"default\" (none) and \"llama3\")");
  }
}

int64_t LlamaConfig::num_parameters() const {
  const int64_t h = hidden_size, d = resolved_head_dim(), q = num_attention_heads * d, kv = num_key_value_heads * d;
  const int64_t attention = h * q + 2 * h * kv + q * h + (attention_bias ? q + 2 * kv + h : 0);
  const int64_t mlp = 3 * h * intermediate_size + (mlp_bias ? 2 * intermediate_size + h : 0);
  const int64_t layer = attention + mlp + 2 * h;
  const int64_t embeddings = vocab_size * h * (tie_word_embeddings ? 1 : 2);
  return embeddings + num_hidden_layers * layer + h;
}

}  // namespace zs
