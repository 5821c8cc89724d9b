// Export to Hugging Face transformers' GPT2LMHeadModel layout: the same parameter names as the
// ZeroShard GPT (transformer.wte, transformer.h.N.attn.c_attn, ...) plus lm_head.weight (= the
// token embedding, tied). GPT-2's c_attn, c_proj and c_fc are Conv1D layers, which store their
// weight as [in, out]: the transpose of a Linear's [out, in]. GPT-2 always has biases; a model
// trained without them exports zero biases, which compute the same function.
#pragma once

#include <string>
#include <vector>

#include "zs/ckpt/consolidate.hpp"

namespace zs {

// The export plan for a checkpoint of zs::GPT. Throws CheckpointError when a parameter has no
// GPT-2 counterpart or a required one is missing.
std::vector<ExportTensor> gpt2_hf_plan(const CheckpointIndex& index);

ExportResult export_hf_gpt2(const std::string& dir, const std::string& out_path, at::ScalarType dtype = at::kFloat,
                            const std::string& tag = "");

}  // namespace zs
