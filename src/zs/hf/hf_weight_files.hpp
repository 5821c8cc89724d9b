// The weight files of a Hugging Face model directory as the hub serves it: one model.safetensors,
// or model-0000k-of-0000n.safetensors shards listed by model.safetensors.index.json. Every
// file's header is read and checked when the directory is opened (a few KB each); tensor data is
// read later, one file at a time, by element range (pread: nothing is mapped, so host memory
// holds only what the caller reads).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "zs/ckpt/safetensors.hpp"

namespace zs {

inline constexpr const char* kHfSingleWeightFile = "model.safetensors";
inline constexpr const char* kHfWeightIndexFile = "model.safetensors.index.json";

class HfWeightFiles {
 public:
  // Throws CheckpointError naming the directory or file: no safetensors weights (a directory with
  // only pytorch_model.bin is refused with a hint), an index naming a missing file or a tensor
  // its file does not hold, a tensor in two files, a damaged header.
  explicit HfWeightFiles(const std::string& dir);

  const std::string& dir() const { return dir_; }
  // File names in the index's order (sorted), each with its reader.
  const std::vector<std::string>& files() const { return files_; }
  const SafetensorsReader& reader(const std::string& file) const;
  bool contains(const std::string& tensor) const { return file_of_.count(tensor) > 0; }
  const std::string& file_of(const std::string& tensor) const;
  const TensorInfo& info(const std::string& tensor) const;
  // Every tensor, by name.
  const std::map<std::string, std::string>& weight_map() const { return file_of_; }
  int64_t total_bytes() const;   // of the tensors' data

 private:
  std::string dir_;
  std::vector<std::string> files_;
  std::map<std::string, std::unique_ptr<SafetensorsReader>> readers_;
  std::map<std::string, std::string> file_of_;
};

// True when `path` is one weight file inside a Hugging Face model directory (a .safetensors file
// next to a config.json): callers that want the directory say so instead of reading it as
// something else.
bool is_file_in_hf_directory(const std::string& path);

}  // namespace zs
