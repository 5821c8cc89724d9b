#include "zs/hf/hf_directory_writer.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <stdexcept>
#include <regex>
#include <set>

#include <fcntl.h>
#include <unistd.h>

#include "zs/ckpt/file_io.hpp"
#include "zs/hf/hf_weight_files.hpp"

namespace zs {

namespace {

// Writes all of `bytes` at `offset` of the file's temp copy.
void write_at_fd(int fd, const void* data, size_t bytes, int64_t offset, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd, p, bytes, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw CheckpointError("cannot write " + path + ": " + std::strerror(errno));
    p += n, offset += n, bytes -= size_t(n);
  }
}

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
    : dir_(std::move(dir)), tensors_(std::move(tensors)), written_(tensors_.size(), false) {
  if (max_shard_bytes <= 0) throw CheckpointError("max_shard_size must be positive");
  if (tensors_.empty()) throw CheckpointError("no tensors to write to " + dir_);
  make_directories(dir_);
  // transformers' rule: a new file when the next tensor would overflow a non-empty one.
  int files = 0;
  int64_t in_file = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    TensorInfo& t = tensors_[i];
    if (t.dtype.empty()) t.dtype = safetensors_dtype(dtype);
    if (!index_.emplace(t.name, i).second) throw CheckpointError("tensor " + t.name + " declared twice for " + dir_);
    const int64_t bytes = t.numel() * safetensors_dtype_size(t.dtype);
    if (files == 0 || (in_file > 0 && in_file + bytes > max_shard_bytes)) ++files, in_file = 0;
    in_file += bytes;
    file_of_.push_back(files - 1);
  }
  // Each file's header, then its full size (the data filled in as tensors come).
  files_.resize(size_t(files));
  try {
    create_files();
  } catch (...) {
    remove_unfinished();
    throw;
  }
}

void HfDirectoryWriter::create_files() {
  const int files = int(files_.size());
  for (int k = 0; k < files; ++k) {
    File& f = files_[size_t(k)];
    f.name = files == 1 ? std::string(kHfSingleWeightFile) : shard_name(k, files);
    f.temp = join_path(dir_, f.name) + ".tmp-" + std::to_string(::getpid());
    std::vector<TensorInfo> in_this;
    for (size_t i = 0; i < tensors_.size(); ++i)
      if (file_of_[i] == k) in_this.push_back(tensors_[i]);
    const std::string header = safetensors_header(in_this, {{"format", "pt"}}, f.name);
    for (const TensorInfo& t : in_this) tensors_[index_.at(t.name)] = t;   // with their offsets
    f.data_start = int64_t(header.size());
    f.bytes = f.data_start + in_this.back().data_end;
    f.fd = ::open(f.temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f.fd < 0) throw CheckpointError("cannot create " + f.temp + ": " + std::strerror(errno));
    write_at_fd(f.fd, header.data(), header.size(), 0, f.temp);
    if (::ftruncate(f.fd, off_t(f.bytes)) != 0) throw CheckpointError("cannot size " + f.temp + ": " + std::strerror(errno));
  }
}

void HfDirectoryWriter::remove_unfinished() {
  for (File& f : files_)
    if (f.fd >= 0) {
      ::close(f.fd);
      ::unlink(f.temp.c_str());
      f.fd = -1;
    }
}

HfDirectoryWriter::~HfDirectoryWriter() { remove_unfinished(); }   // no half-written file is left behind

void HfDirectoryWriter::write(const std::string& name, const at::Tensor& value) {
  auto it = index_.find(name);
  if (it == index_.end()) throw CheckpointError(dir_ + ": tensor " + name + " was not declared");
  const size_t i = it->second;
  if (written_[i]) throw CheckpointError(dir_ + ": tensor " + name + " written twice");
  const TensorInfo& t = tensors_[i];
  if (value.numel() != t.numel())
    throw CheckpointError(dir_ + ": tensor " + name + " has " + std::to_string(value.numel()) + " elements, declared " +
                          std::to_string(t.numel()));
  const at::Tensor cpu = value.detach().to(at::kCPU, scalar_type_from_safetensors(t.dtype)).contiguous();
  File& f = files_[size_t(file_of_[i])];
  write_at_fd(f.fd, cpu.data_ptr(), size_t(t.data_end - t.data_begin), f.data_start + t.data_begin, f.temp);
  written_[i] = true;
  ++result_.tensors;
}

HfDirectoryResult HfDirectoryWriter::finish(const nlohmann::json& config, const nlohmann::json& generation_config) {
  for (size_t i = 0; i < tensors_.size(); ++i)
    if (!written_[i]) throw CheckpointError(dir_ + ": tensor " + tensors_[i].name + " was declared but not written");
  for (File& f : files_) {
    if (::fsync(f.fd) != 0) throw CheckpointError("cannot fsync " + f.temp + ": " + std::strerror(errno));
    const int rc = ::close(f.fd);
    f.fd = -1;
    if (rc != 0) {
      ::unlink(f.temp.c_str());
      throw CheckpointError("cannot close " + f.temp + ": " + std::strerror(errno));
    }
    rename_path(f.temp, join_path(dir_, f.name));
    result_.bytes += f.bytes;
    ++result_.files;
  }
  fsync_directory(dir_);
  const bool sharded = files_.size() > 1;
  if (sharded) {
    nlohmann::json index;
    int64_t total = 0;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      index["weight_map"][tensors_[i].name] = files_[size_t(file_of_[i])].name;
      total += tensors_[i].data_end - tensors_[i].data_begin;
    }
    index["metadata"] = {{"total_size", total}};
    write_file_atomic(join_path(dir_, kHfWeightIndexFile), index.dump(2) + "\n");
  }
  write_file_atomic(join_path(dir_, "config.json"), config.dump(2) + "\n");
  if (!generation_config.is_null())
    write_file_atomic(join_path(dir_, "generation_config.json"), generation_config.dump(2) + "\n");
  // Weight files of an earlier export that this one replaced.
  std::set<std::string> mine;
  for (const File& f : files_) mine.insert(f.name);
  const std::regex weight_file(R"(model(-\d{5}-of-\d{5})?\.safetensors)");
  for (const std::string& name : list_directory(dir_)) {
    const bool stale_weights = std::regex_match(name, weight_file) && !mine.count(name);
    const bool stale_index = !sharded && name == kHfWeightIndexFile;
    if (stale_weights || stale_index) remove_tree(join_path(dir_, name));
  }
  return result_;
}

}  // namespace zs
