// Hugging Face config.json <-> ZeroShard model configs, for the families ZeroShard has: Llama
// (LlamaForCausalLM) and GPT-2 (GPT2LMHeadModel).
//
// Reading applies transformers' own defaults for keys a file leaves out and accepts both styles
// of rotary settings: the older `rope_theta` / `rope_scaling` at the top level and the newer
// `rope_parameters` object (transformers 5). Settings ZeroShard's models do not implement (another
// activation, another rope scaling type, partial rotary embeddings ...) are errors naming the key,
// never silently dropped. Writing produces a file transformers' from_pretrained loads, with both
// rope styles, so older and newer transformers read the same values.
#pragma once

#include <string>

#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include "zs/models/gpt/gpt_config.hpp"
#include "zs/models/llama/llama_config.hpp"

namespace zs {

// <dir>/config.json, parsed. Throws CheckpointError naming the file when missing or not JSON.
nlohmann::json read_hf_config(const std::string& dir);

// "llama", "gpt2", ...: config.json's model_type (or what its `architectures` say). Throws when
// neither is there.
std::string hf_model_type(const nlohmann::json& config, const std::string& where);

// `where` names the file in error messages. Throws CheckpointError.
LlamaConfig llama_config_from_hf(const nlohmann::json& config, const std::string& where);
// `dtype`: the weights' dtype, recorded as "torch_dtype"/"dtype".
nlohmann::json llama_config_to_hf(const LlamaConfig& config, at::ScalarType dtype);

// GPT-2 always has biases; GPTConfig::bias comes back true. Dropouts are taken from resid_pdrop.
GPTConfig gpt_config_from_hf(const nlohmann::json& config, const std::string& where);
nlohmann::json gpt_config_to_hf(const GPTConfig& config, at::ScalarType dtype);

// generation_config.json's usual content for these ids (bos/eos; pad when set).
nlohmann::json hf_generation_config(const nlohmann::json& config);

// "float32", "bfloat16", "float16" (config.json's names) and back.
std::string hf_dtype_name(at::ScalarType dtype);

}  // namespace zs
