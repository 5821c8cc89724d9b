#include "zs/hf/hf_weight_files.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "zs/base/strings.hpp"
#include "zs/ckpt/file_io.hpp"

namespace zs {

HfWeightFiles::HfWeightFiles(const std::string& dir) : dir_(dir) {
  if (!is_directory(dir)) throw CheckpointError("Hugging Face model directory " + dir + " does not exist");
  const std::string index_path = join_path(dir, kHfWeightIndexFile);
  std::map<std::string, std::string> listed;   // tensor -> file, as the index says
  if (path_exists(index_path)) {
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(read_text_file(index_path));
    } catch (const nlohmann::json::parse_error& e) {
      throw CheckpointError(index_path + " is not valid JSON: " + e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw CheckpointError(index_path + " has no \"weight_map\" object");
    std::set<std::string> names;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string()) throw CheckpointError(index_path + ": the file of " + tensor + " is not a string");
      const std::string f = file.get<std::string>();
      if (f.find('/') != std::string::npos || f == ".." || f.empty())
        throw CheckpointError(index_path + " names file \"" + f + "\" outside the directory");
      listed[tensor] = f;
      names.insert(f);
    }
    files_.assign(names.begin(), names.end());
  } else if (path_exists(join_path(dir, kHfSingleWeightFile))) {
    files_ = {kHfSingleWeightFile};
  } else {
    std::string hint;
    for (const char* legacy : {"pytorch_model.bin", "pytorch_model.bin.index.json"})
      if (path_exists(join_path(dir, legacy))) hint = " (it has " + std::string(legacy) +
                                                      ": save it with safe_serialization=True, or convert it to safetensors)";
    throw CheckpointError(dir + " has no " + kHfSingleWeightFile + " and no " + kHfWeightIndexFile + hint);
  }
  for (const std::string& f : files_) {
    const std::string path = join_path(dir, f);
    if (!path_exists(path)) throw CheckpointError(index_path + " names " + f + ", which is missing");
    auto reader = std::make_unique<SafetensorsReader>(path);
    for (const TensorInfo& t : reader->tensors()) {
      auto [it, added] = file_of_.emplace(t.name, f);
      if (!added) throw CheckpointError(dir + ": tensor " + t.name + " is in both " + it->second + " and " + f);
    }
    readers_[f] = std::move(reader);
  }
  for (const auto& [tensor, file] : listed) {
    auto it = file_of_.find(tensor);
    if (it == file_of_.end() || it->second != file)
      throw CheckpointError(index_path + " places " + tensor + " in " + file + ", which does not hold it");
  }
}

const SafetensorsReader& HfWeightFiles::reader(const std::string& file) const {
  auto it = readers_.find(file);
  if (it == readers_.end()) throw CheckpointError(dir_ + " has no weight file " + file);
  return *it->second;
}

const std::string& HfWeightFiles::file_of(const std::string& tensor) const {
  auto it = file_of_.find(tensor);
  if (it == file_of_.end()) throw CheckpointError(dir_ + " has no tensor " + tensor);
  return it->second;
}

const TensorInfo& HfWeightFiles::info(const std::string& tensor) const { return reader(file_of(tensor)).info(tensor); }

int64_t HfWeightFiles::total_bytes() const {
  int64_t n = 0;
  for (const auto& [file, reader] : readers_)
    for (const TensorInfo& t : reader->tensors()) n += t.data_end - t.data_begin;
  return n;
}

bool is_file_in_hf_directory(const std::string& path) {
  if (is_directory(path) || !ends_with(path, ".safetensors")) return false;
  return path_exists(join_path(parent_directory(path), "config.json"));
}

}  // namespace zs
