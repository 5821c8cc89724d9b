#include "zs/hf/hf_directory_writer.hpp"

#include <cctype>
#include <cstdio>
#include <stdexcept>
#include <regex>
#include <set>

#include "zs/ckpt/file_io.hpp"
#include "zs/hf/hf_weight_files.hpp"

namespace zs {

namespace {

std::string shard_name(int k, int n) {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, n);
  return name;
}

}  // namespace

int64_t parse_byte_size(const std::string& text) {
  static const std::regex form(R"(\s*([0-9]+(\.[0-9]+)?)\s*([KMGT]i?B|B)?\s*)", std::regex::icase);
  std::smatch m;
  if (!std::regex_match(text, m, form)) throw std::invalid_argument("\"" + text + "\" is not a size such as 5GB or 500MB");
  std::string unit = m[3].str();
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  double bytes = std::stod(m[1].str());
  const bool binary = unit.size() == 3;
  const double base = binary ? 1024.0 : 1000.0;
  const std::string prefix = unit.empty() ? "B" : unit.substr(0, 1);
  const int power = prefix == "K" ? 1 : prefix == "M" ? 2 : prefix == "G" ? 3 : prefix == "T" ? 4 : 0;
  for (int i = 0; i < power; ++i) bytes *= base;
  if (bytes < 1) throw std::invalid_argument("size \"" + text + "\" is less than one byte");
  return int64_t(bytes);
}

HfDirectoryWriter::HfDirectoryWriter(std::string dir, std::vector<TensorInfo> tensors, at::ScalarType dtype,
                                     int64_t max_shard_bytes)
    : dir_(std::move(dir)), dtype_(dtype), tensors_(std::move(tensors)) {
  if (max_shard_bytes <= 0) throw CheckpointError("max_shard_size must be positive");
  make_directories(dir_);
  // transformers' rule: a new file when the next tensor would overflow a non-empty one.
  int files = 0;
  int64_t in_file = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    TensorInfo& t = tensors_[i];
    if (t.dtype.empty()) t.dtype = safetensors_dtype(dtype_);
    if (!index_.emplace(t.name, i).second) throw CheckpointError("tensor " + t.name + " declared twice for " + dir_);
    const int64_t bytes = t.numel() * safetensors_dtype_size(t.dtype);
    if (files == 0 || (in_file > 0 && in_file + bytes > max_shard_bytes)) ++files, in_file = 0;
    in_file += bytes;
    file_of_.push_back(files - 1);
  }
  if (files == 0) throw CheckpointError("no tensors to write to " + dir_);
  for (int k = 0; k < files; ++k) file_names_.push_back(files == 1 ? std::string(kHfSingleWeightFile) : shard_name(k, files));
}

HfDirectoryWriter::~HfDirectoryWriter() = default;   // an unfinished file's temp copy is removed

void HfDirectoryWriter::write(const std::string& name, const at::Tensor& value) {
  auto it = index_.find(name);
  if (it == index_.end()) throw CheckpointError(dir_ + ": tensor " + name + " was not declared");
  const size_t i = it->second;
  if (i < next_ || pending_.count(i)) throw CheckpointError(dir_ + ": tensor " + name + " written twice");
  const TensorInfo& t = tensors_[i];
  if (value.numel() != t.numel())
    throw CheckpointError(dir_ + ": tensor " + name + " has " + std::to_string(value.numel()) + " elements, declared " +
                          std::to_string(t.numel()));
  pending_[i] = value.detach().to(at::kCPU, scalar_type_from_safetensors(t.dtype)).contiguous();
  write_ready();
}

void HfDirectoryWriter::write_ready() {
  while (next_ < tensors_.size() && pending_.count(next_)) {
    const int file = file_of_[next_];
    if (file != open_file_) {
      std::vector<TensorInfo> declared;
      for (size_t j = 0; j < tensors_.size(); ++j)
        if (file_of_[j] == file) declared.push_back(tensors_[j]);
      open_ = std::make_unique<SafetensorsWriter>(join_path(dir_, file_names_[file]), declared,
                                                  SafetensorsMetadata{{"format", "pt"}});
      open_file_ = file;
    }
    open_->write(tensors_[next_].name, pending_.at(next_));
    pending_.erase(next_);
    ++result_.tensors;
    ++next_;
    if (next_ == tensors_.size() || file_of_[next_] != open_file_) {
      result_.bytes += open_->finish().bytes;
      ++result_.files;
      open_.reset();
    }
  }
}

HfDirectoryResult HfDirectoryWriter::finish(const nlohmann::json& config, const nlohmann::json& generation_config) {
  if (next_ != tensors_.size())
    throw CheckpointError(dir_ + ": tensor " + tensors_[next_].name + " was declared but not written");
  const bool sharded = file_names_.size() > 1;
  if (sharded) {
    nlohmann::json index;
    int64_t total = 0;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      index["weight_map"][tensors_[i].name] = file_names_[file_of_[i]];
      total += tensors_[i].numel() * safetensors_dtype_size(tensors_[i].dtype);
    }
    index["metadata"] = {{"total_size", total}};
    write_file_atomic(join_path(dir_, kHfWeightIndexFile), index.dump(2) + "\n");
  }
  write_file_atomic(join_path(dir_, "config.json"), config.dump(2) + "\n");
  if (!generation_config.is_null())
    write_file_atomic(join_path(dir_, "generation_config.json"), generation_config.dump(2) + "\n");
  // Weight files of an earlier export that this one replaced.
  const std::set<std::string> mine(file_names_.begin(), file_names_.end());
  const std::regex weight_file(R"(model(-\d{5}-of-\d{5})?\.safetensors)");
  for (const std::string& name : list_directory(dir_)) {
    const bool stale_weights = std::regex_match(name, weight_file) && !mine.count(name);
    const bool stale_index = !sharded && name == kHfWeightIndexFile;
    if (stale_weights || stale_index) remove_tree(join_path(dir_, name));
  }
  return result_;
}

}  // namespace zs
