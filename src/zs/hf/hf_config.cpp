#include "zs/hf/hf_config.hpp"

#include <cmath>

#include "zs/ckpt/file_io.hpp"

namespace zs {

namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw CheckpointError(where + ": " + what); }

// A key's value when present and not null, else `fallback`; a value of the wrong type is an error.
template <class T>
T get_or(const json& j, const char* key, T fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  try {
    return j[key].get<T>();
  } catch (const json::exception&) {
    fail(where, std::string("\"") + key + "\" has the wrong type (" + j[key].dump() + ")");
  }
}

template <class T>
T required(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) fail(where, std::string("has no \"") + key + "\"");
  return get_or<T>(j, key, T(), where);
}

// The rotary settings in either style. transformers' precedence: a non-null `rope_scaling` object,
// else `rope_parameters`; `rope_theta` inside it, else at the top level, else 10000.
void read_rope(const json& j, LlamaConfig& c, const std::string& where) {
  json params = json::object();
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object() && !j["rope_scaling"].empty()) {
    params = j["rope_scaling"];
  } else if (j.contains("rope_parameters") && !j["rope_parameters"].is_null()) {
    if (!j["rope_parameters"].is_object()) fail(where, "\"rope_parameters\" is not an object");
    params = j["rope_parameters"];
  } else if (j.contains("rope_scaling") && !j["rope_scaling"].is_null() && !j["rope_scaling"].is_object()) {
    fail(where, "\"rope_scaling\" is neither an object nor null");
  }
  c.rope_theta = get_or<double>(params, "rope_theta", get_or<double>(j, "rope_theta", 10000.0, where), where);
  std::string type = get_or<std::string>(params, "rope_type", get_or<std::string>(params, "type", "default", where), where);
  c.rope_scaling = RopeScaling();
  c.rope_scaling.type = type;
  if (type == "default") {
  } else if (type == "llama3") {
    c.rope_scaling.factor = required<double>(params, "factor", where + " (rope llama3)");
    c.rope_scaling.low_freq_factor = required<double>(params, "low_freq_factor", where + " (rope llama3)");
    c.rope_scaling.high_freq_factor = required<double>(params, "high_freq_factor", where + " (rope llama3)");
    c.rope_scaling.original_max_position_embeddings = get_or<int64_t>(
        params, "original_max_position_embeddings", get_or<int64_t>(j, "original_max_position_embeddings", c.max_position_embeddings, where), where);
  } else {
    fail(where, "rope scaling type \"" + type + "\" is not supported (supported: \"default\" and \"llama3\")");
  }
  const double partial = get_or<double>(params, "partial_rotary_factor", get_or<double>(j, "partial_rotary_factor", 1.0, where), where);
  if (partial != 1.0) fail(where, "partial_rotary_factor " + std::to_string(partial) + " is not supported (rotary embeddings cover whole heads)");
}

std::vector<int64_t> token_ids(const json& j, const char* key, std::vector<int64_t> fallback, const std::string& where) {
  if (!j.contains(key)) return fallback;
  const json& v = j[key];
  if (v.is_null()) return {};
  if (v.is_number_integer()) return {v.get<int64_t>()};
  if (v.is_array()) {
    std::vector<int64_t> ids;
    for (const json& x : v) {
      if (!x.is_number_integer()) fail(where, std::string("\"") + key + "\" holds a non-integer");
      ids.push_back(x.get<int64_t>());
    }
    return ids;
  }
  fail(where, std::string("\"") + key + "\" is neither an integer, a list nor null");
}

json ids_json(const std::vector<int64_t>& ids) {
  if (ids.empty()) return nullptr;
  if (ids.size() == 1) return ids[0];
  return ids;
}

}  // namespace

std::string hf_dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: throw CheckpointError(std::string("no Hugging Face dtype name for ") + c10::toString(dtype));
  }
}

json read_hf_config(const std::string& dir) {
  const std::string path = join_path(dir, "config.json");
  if (!is_directory(dir)) throw CheckpointError("Hugging Face model directory " + dir + " does not exist");
  if (!path_exists(path)) throw CheckpointError(dir + " has no config.json (not a Hugging Face model directory)");
  try {
    json j = json::parse(read_text_file(path));
    if (!j.is_object()) throw CheckpointError(path + " is not a JSON object");
    return j;
  } catch (const json::parse_error& e) {
    throw CheckpointError(path + " is not valid JSON: " + e.what());
  }
}

std::string hf_model_type(const json& config, const std::string& where) {
  if (config.contains("model_type") && config["model_type"].is_string()) return config["model_type"].get<std::string>();
  if (config.contains("architectures") && config["architectures"].is_array()) {
    for (const json& a : config["architectures"]) {
      if (a == "LlamaForCausalLM") return "llama";
      if (a == "GPT2LMHeadModel") return "gpt2";
    }
  }
  fail(where, "names no model_type");
}

LlamaConfig llama_config_from_hf(const json& j, const std::string& where) {
  const std::string type = hf_model_type(j, where);
  if (type != "llama") fail(where, "model_type is \"" + type + "\", not \"llama\"");
  LlamaConfig c;
  c.vocab_size = required<int64_t>(j, "vocab_size", where);
  c.hidden_size = required<int64_t>(j, "hidden_size", where);
  c.intermediate_size = required<int64_t>(j, "intermediate_size", where);
  c.num_hidden_layers = required<int64_t>(j, "num_hidden_layers", where);
  c.num_attention_heads = required<int64_t>(j, "num_attention_heads", where);
  c.num_key_value_heads = get_or<int64_t>(j, "num_key_value_heads", c.num_attention_heads, where);
  c.head_dim = get_or<int64_t>(j, "head_dim", 0, where);
  if (c.head_dim > 0 && c.head_dim * c.num_attention_heads == c.hidden_size) c.head_dim = 0;   // the derived value
  c.max_position_embeddings = get_or<int64_t>(j, "max_position_embeddings", 2048, where);
  c.rms_norm_eps = get_or<double>(j, "rms_norm_eps", 1e-6, where);
  c.attention_bias = get_or<bool>(j, "attention_bias", false, where);
  c.mlp_bias = get_or<bool>(j, "mlp_bias", false, where);
  c.attention_dropout = get_or<double>(j, "attention_dropout", 0.0, where);
  c.tie_word_embeddings = get_or<bool>(j, "tie_word_embeddings", false, where);
  c.initializer_range = get_or<double>(j, "initializer_range", 0.02, where);
  c.hidden_act = get_or<std::string>(j, "hidden_act", "silu", where);
  const std::vector<int64_t> bos = token_ids(j, "bos_token_id", {1}, where);
  c.bos_token_id = bos.empty() ? -1 : bos[0];
  c.eos_token_id = token_ids(j, "eos_token_id", {2}, where);
  const std::vector<int64_t> pad = token_ids(j, "pad_token_id", {}, where);
  c.pad_token_id = pad.empty() ? -1 : pad[0];
  read_rope(j, c, where);
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    fail(where, e.what());
  }
  return c;
}

json llama_config_to_hf(const LlamaConfig& c, at::ScalarType dtype) {
  json rope = {{"rope_type", c.rope_scaling.type}, {"rope_theta", c.rope_theta}};
  json scaling = nullptr;
  if (c.rope_scaling.type == "llama3") {
    scaling = {{"rope_type", "llama3"},
               {"factor", c.rope_scaling.factor},
               {"low_freq_factor", c.rope_scaling.low_freq_factor},
               {"high_freq_factor", c.rope_scaling.high_freq_factor},
               {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
    for (const auto& [key, value] : scaling.items()) rope[key] = value;
  }
  json j = {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", "llama"},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"num_hidden_layers", c.num_hidden_layers},
            {"num_attention_heads", c.num_attention_heads},
            {"num_key_value_heads", c.num_key_value_heads},
            {"head_dim", c.resolved_head_dim()},
            {"hidden_act", c.hidden_act},
            {"max_position_embeddings", c.max_position_embeddings},
            {"rms_norm_eps", c.rms_norm_eps},
            {"initializer_range", c.initializer_range},
            {"attention_bias", c.attention_bias},
            {"attention_dropout", c.attention_dropout},
            {"mlp_bias", c.mlp_bias},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"rope_parameters", rope},   // transformers 5
            {"rope_theta", c.rope_theta},   // older transformers
            {"rope_scaling", scaling},
            {"bos_token_id", c.bos_token_id >= 0 ? json(c.bos_token_id) : json(nullptr)},
            {"eos_token_id", ids_json(c.eos_token_id)},
            {"pad_token_id", c.pad_token_id >= 0 ? json(c.pad_token_id) : json(nullptr)},
            {"use_cache", true},
            {"torch_dtype", hf_dtype_name(dtype)},
            {"dtype", hf_dtype_name(dtype)}};
  return j;
}

GPTConfig gpt_config_from_hf(const json& j, const std::string& where) {
  const std::string type = hf_model_type(j, where);
  if (type != "gpt2") fail(where, "model_type is \"" + type + "\", not \"gpt2\"");
  GPTConfig c;
  c.vocab_size = required<int64_t>(j, "vocab_size", where);
  c.block_size = get_or<int64_t>(j, "n_positions", 1024, where);
  c.n_embd = get_or<int64_t>(j, "n_embd", 768, where);
  c.n_layer = get_or<int64_t>(j, "n_layer", 12, where);
  c.n_head = get_or<int64_t>(j, "n_head", 12, where);
  c.bias = true;
  c.dropout = get_or<double>(j, "resid_pdrop", 0.1, where);
  const int64_t inner = get_or<int64_t>(j, "n_inner", 4 * c.n_embd, where);
  if (inner != 4 * c.n_embd) fail(where, "n_inner " + std::to_string(inner) + " is not 4 * n_embd (the GPT's MLP width)");
  const double eps = get_or<double>(j, "layer_norm_epsilon", 1e-5, where);
  if (std::abs(eps - 1e-5) > 1e-12) fail(where, "layer_norm_epsilon " + std::to_string(eps) + " is not the GPT's 1e-5");
  const std::string act = get_or<std::string>(j, "activation_function", "gelu_new", where);
  if (act == "gelu") {
    c.activation = "gelu";
  } else if (act == "gelu_new" || act == "gelu_pytorch_tanh") {
    c.activation = "gelu_tanh";
  } else {
    fail(where, "activation_function \"" + act + "\" is not supported (gelu, gelu_new, gelu_pytorch_tanh)");
  }
  for (const char* key : {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"})
    if (get_or<bool>(j, key, false, where)) fail(where, std::string("\"") + key + "\" is not supported");
  if (!get_or<bool>(j, "scale_attn_weights", true, where)) fail(where, "scale_attn_weights false is not supported");
  if (!get_or<bool>(j, "tie_word_embeddings", true, where)) fail(where, "an untied GPT-2 head is not supported");
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    fail(where, e.what());
  }
  return c;
}

json gpt_config_to_hf(const GPTConfig& c, at::ScalarType dtype) {
  return {{"architectures", {"GPT2LMHeadModel"}},
          {"model_type", "gpt2"},
          {"vocab_size", c.vocab_size},
          {"n_positions", c.block_size},
          {"n_ctx", c.block_size},
          {"n_embd", c.n_embd},
          {"n_layer", c.n_layer},
          {"n_head", c.n_head},
          {"n_inner", nullptr},
          // "gelu" is the exact (erf) GELU; "gelu_new" GPT-2's tanh approximation.
          {"activation_function", c.activation == "gelu_tanh" ? "gelu_new" : "gelu"},
          {"layer_norm_epsilon", 1e-5},
          {"resid_pdrop", c.dropout},
          {"embd_pdrop", c.dropout},
          {"attn_pdrop", c.dropout},
          {"initializer_range", 0.02},
          {"scale_attn_weights", true},
          {"tie_word_embeddings", true},
          // GPT-2's end-of-text token, where the vocabulary has it.
          {"bos_token_id", c.vocab_size > 50256 ? json(50256) : json(nullptr)},
          {"eos_token_id", c.vocab_size > 50256 ? json(50256) : json(nullptr)},
          {"use_cache", true},
          {"torch_dtype", hf_dtype_name(dtype)},
          {"dtype", hf_dtype_name(dtype)}};
}

json hf_generation_config(const json& config) {
  json g = {{"_from_model_config", true}};
  for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id"})
    if (config.contains(key) && !config[key].is_null()) g[key] = config[key];
  return g;
}

}  // namespace zs
