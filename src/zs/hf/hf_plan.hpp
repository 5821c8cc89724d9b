// Which tensor of a Hugging Face weight file holds which parameter of a ZeroShard model, for the
// two families: Llama (the same names, as stored) and GPT-2 (the same names, but c_attn, c_proj
// and c_fc are Conv1D layers stored transposed, [in, out]; biases always present; the head tied).
// One plan serves loading (file -> parameters) and export (parameters -> files).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zs {

// A parameter by name and shape (from a module, or from a checkpoint's index).
struct ParamInfo {
  std::string name;
  std::vector<int64_t> shape;
};

struct HfTensor {
  std::string name;              // in the Hugging Face files
  std::vector<int64_t> shape;    // in the files
  std::string param;             // our parameter it holds; empty: none (see zeros)
  bool transpose = false;        // the file holds the parameter's transpose
  // Exported as zeros for a parameter our model lacks (GPT-2 biases of a bias-free GPT); on load
  // the file's tensor must be all zeros, since the model cannot represent anything else.
  bool zeros = false;
  // A second copy of a parameter listed before (GPT-2's lm_head.weight = the token embedding):
  // exported, ignored (and optional) on load.
  bool tied_copy = false;
};

struct HfPlan {
  std::string model_type;                 // "llama" or "gpt2"
  std::vector<HfTensor> tensors;          // in our parameters' order
  // File tensors that are not parameters (buffers older exports kept, a tied head's copy), by
  // name suffix: ignored on load.
  std::vector<std::string> ignored_suffixes;
  // GPT-2 files on the hub name tensors without the "transformer." prefix.
  std::string optional_prefix;

  bool ignored(const std::string& file_tensor) const;
};

// The plan for a model's parameters; the family is recognised by its names
// (model.embed_tokens.weight: Llama; transformer.wte.weight: GPT). Throws CheckpointError when the
// parameters are neither family's or a parameter has no counterpart.
HfPlan hf_plan(const std::vector<ParamInfo>& params);

}  // namespace zs
