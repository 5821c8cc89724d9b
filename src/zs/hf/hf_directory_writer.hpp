// Writes a Hugging Face model directory as save_pretrained does, so from_pretrained loads it:
// config.json, generation_config.json, and the weights as one model.safetensors or, past
// max_shard_size, as model-0000k-of-0000n.safetensors shards listed in
// model.safetensors.index.json. Each file is written atomically (temp file, fsync, rename); weight
// files of an earlier export in the same directory that this one does not use are removed.
//
// The tensors are declared up front (names and shapes, in file order), which fixes every file's
// header and every tensor's place; they may then be written in any order, each straight to its
// place (all files are open at once, as temp files renamed into place by finish()), so memory
// stays at one tensor whatever order they come in.
#pragma once

#include <cstdint>
#include <map>
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
  // Every declared tensor must have been written. Puts the weight files in place and writes the
  // index (when sharded), config.json and, when `generation_config` is not null,
  // generation_config.json; removes stale weight files.
  HfDirectoryResult finish(const nlohmann::json& config, const nlohmann::json& generation_config = nullptr);

  int num_files() const { return int(files_.size()); }

 private:
  void create_files();
  void remove_unfinished();

  struct File {
    std::string name, temp;
    int fd = -1;
    int64_t data_start = 0, bytes = 0;
  };

  std::string dir_;
  std::vector<TensorInfo> tensors_;                // in file order, offsets within their file
  std::vector<int> file_of_;                       // per tensor
  std::vector<File> files_;
  std::map<std::string, size_t> index_;            // name -> position in tensors_
  std::vector<bool> written_;
  HfDirectoryResult result_;
};

}  // namespace zs
