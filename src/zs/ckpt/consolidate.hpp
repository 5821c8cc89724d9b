// Consolidation: a sharded checkpoint into one safetensors file of full tensors. Streams tensor by
// tensor (each gathered from its slices, converted, written), so memory stays near the largest
// tensor whatever the model's size. An export is a plan of output tensors, each made from a saved
// parameter (possibly transposed) or zeros; zs/hf/hf_export.hpp builds one for Hugging Face layouts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/safetensors.hpp"

namespace zs {

struct ExportTensor {
  std::string name;               // in the output file
  std::vector<int64_t> shape;     // in the output file
  enum class Source { parameter, module_tensor, zeros } source = Source::parameter;
  std::string from;               // the saved parameter's (or module tensor's) name
  bool transpose = false;         // a 2-D parameter stored as its transpose
};

struct ExportResult {
  int64_t tensors = 0;
  int64_t bytes = 0;               // of the file written
  int64_t largest_tensor_bytes = 0;
};

// Every parameter and module tensor under its own name and shape.
std::vector<ExportTensor> identity_plan(const CheckpointIndex& index);

// Writes `plan` from checkpoint <dir>/<tag> (tag "" = latest) to `out_path` (atomically).
// Floating tensors are written as `dtype`; integer buffers keep theirs. Verifies every shard file
// it reads. `metadata` goes into the file's header.
ExportResult write_export(const std::string& dir, const std::string& tag, const std::vector<ExportTensor>& plan,
                          const std::string& out_path, at::ScalarType dtype, SafetensorsMetadata metadata = {});

// Consolidates <dir>/<tag> into one safetensors file, names as in the model.
ExportResult consolidate_checkpoint(const std::string& dir, const std::string& out_path,
                                    at::ScalarType dtype = at::kFloat, const std::string& tag = "");

}  // namespace zs
