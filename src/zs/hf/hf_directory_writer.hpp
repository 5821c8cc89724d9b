// Writes a Hugging Face model directory as save_pretrained does, so from_pretrained loads it:
// config.json, generation_config.json, and the weights as one model.safetensors or, past
// max_shard_size, as model-0000k-of-0000n.safetensors shards listed in
// model.safetensors.index.json. Each file is written atomically (temp file, fsync, rename); weight
// files of an earlier export in the same directory that this one does not use are removed.
//
// The tensors are declared up front (names and shapes, in file order) and may then be written in
// any order: a tensor whose file is not being written yet is held (on the host, in the output
// dtype) until its turn, so memory stays near one tensor when the order matches.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "zs/ckpt/safetensors.hpp"

namespace zs {

// transformers' default shard size.
inline constexpr int64_t kHfDefaultMaxShardBytes = int64_t(5) * 1000 * 1000 * 1000;

// "5GB" (10^9), "500MB", "2GiB" (2^30), "1000000" (bytes): max_shard_size as transformers reads it.
// Throws std::invalid_argument.
int64_t parse_byte_size(const std::string& text);

struct HfDirectoryResult {
  int files = 0;
  int64_t tensors = 0;
  int64_t bytes = 0;   // of the weight files
};

class HfDirectoryWriter {
 public:
  // `tensors`: name and shape of each (dtype is filled in: floating tensors are written as `dtype`).
  HfDirectoryWriter(std::string dir, std::vector<TensorInfo> tensors, at::ScalarType dtype,
                    int64_t max_shard_bytes = kHfDefaultMaxShardBytes);
  ~HfDirectoryWriter();
  HfDirectoryWriter(const HfDirectoryWriter&) = delete;
  HfDirectoryWriter& operator=(const HfDirectoryWriter&) = delete;

  // Any declared tensor, once, in any order; any device; converted to the output dtype.
  void write(const std::string& name, const at::Tensor& value);
  // Every declared tensor must have been written. Writes the index (when sharded), config.json and,
  // when `generation_config` is not null, generation_config.json; removes stale weight files.
  HfDirectoryResult finish(const nlohmann::json& config, const nlohmann::json& generation_config = nullptr);

  int num_files() const { return int(file_names_.size()); }

 private:
  void write_ready();

  std::string dir_;
  at::ScalarType dtype_;
  std::vector<TensorInfo> tensors_;                // in file order
  std::vector<int> file_of_;                       // per tensor
  std::vector<std::string> file_names_;
  std::map<std::string, size_t> index_;            // name -> position in tensors_
  std::map<size_t, at::Tensor> pending_;           // written out of turn, held
  size_t next_ = 0;                                // next tensor to put in a file
  std::unique_ptr<SafetensorsWriter> open_;        // the file being written
  int open_file_ = -1;
  HfDirectoryResult result_;
};

}  // namespace zs
