// Export to a Hugging Face model directory that transformers' from_pretrained loads
// (LlamaForCausalLM, GPT2LMHeadModel): from a plain module, from a training engine (collective:
// stage-3 units are gathered one at a time, rank 0 writes), or from a ZeroShard checkpoint (its fp32
// masters, streamed tensor by tensor).
//
//   zs::save_hf_pretrained(engine, "out/hf");                    // every rank calls it
//   zs::save_hf_pretrained(*model, "out/hf", {at::kFloat});
#pragma once

#include <string>

#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include "zs/ckpt/consolidate.hpp"
#include "zs/hf/hf_directory_writer.hpp"

namespace zs {

class Engine;

struct HfExportOptions {
  at::ScalarType dtype = at::kBFloat16;                 // of floating tensors (and config.json's torch_dtype)
  int64_t max_shard_bytes = kHfDefaultMaxShardBytes;    // per weight file
  bool generation_config = true;                        // also write generation_config.json
};

// config.json's content for a zs::Llama or zs::GPT; throws CheckpointError for other modules.
nlohmann::json hf_config_of(const torch::nn::Module& model, at::ScalarType dtype);

HfDirectoryResult save_hf_pretrained(torch::nn::Module& model, const std::string& dir, const HfExportOptions& options = {});
// Collective. The parameters as the engine holds them (16-bit when training in bf16/fp16); on
// rank 0's error every rank throws CheckpointError.
HfDirectoryResult save_hf_pretrained(Engine& engine, const std::string& dir, const HfExportOptions& options = {});

// Checkpoint <ckpt_dir>/<tag> (tag "" = latest) to a directory, with `config` as config.json
// (its torch_dtype is set to options.dtype).
HfDirectoryResult export_hf_checkpoint(const std::string& ckpt_dir, const std::string& tag, const std::string& out_dir,
                                       nlohmann::json config, const HfExportOptions& options = {});

// config.json's content for checkpoint <ckpt_dir>/<tag>: the `config_path` file when given (the
// config.json of the directory the model started from), else the model config the training
// program stored in the checkpoint's client state ("model", as train_llama saves it), else, for a
// GPT, one made from the checkpoint's shapes and `n_head` (or train_gpt's saved n_head). Checked against the checkpoint's parameter shapes. Throws CheckpointError
// saying what to pass when none of these is there.
nlohmann::json hf_config_for_checkpoint(const std::string& ckpt_dir, const std::string& tag,
                                        const std::string& config_path = "", int64_t n_head = 0);

// The weights alone as one safetensors file in Hugging Face's names and layout (no config.json).
ExportResult export_hf_weights_file(const std::string& ckpt_dir, const std::string& tag, const std::string& out_path,
                                    at::ScalarType dtype);

}  // namespace zs
