#include "zs/ckpt/checkpoint_files.hpp"

#include <algorithm>

#include <ATen/ops/empty.h>

namespace zs {

CheckpointFiles::CheckpointFiles(std::string dir, std::string tag, const CheckpointIndex& index, bool verify)
    : tag_dir_(join_path(dir, tag)), index_(index), verify_(verify) {}

std::string CheckpointFiles::check_file(const FileRecord& file) const {
  const std::string path = join_path(tag_dir_, file.name);
  const int64_t size = file_size_or_minus_one(path);
  if (size < 0) return "missing";
  if (size < file.bytes) return "truncated";
  if (size > file.bytes) return "corrupted (size mismatch)";
  if (file_crc32(path) != file.crc32) return "corrupted (crc32 mismatch)";
  return "";
}

const SafetensorsReader& CheckpointFiles::open(const std::string& file) {
  auto it = open_.find(file);
  if (it != open_.end()) return *it->second;
  const FileRecord* record = index_.find_file(file);
  if (!record) throw CheckpointError(where() + ": index.json lists no file " + file);
  if (verify_) {
    const std::string problem = check_file(*record);
    if (!problem.empty()) throw CheckpointError(where() + ": shard " + file + " is " + problem);
  }
  std::unique_ptr<SafetensorsReader> reader;
  try {
    reader = std::make_unique<SafetensorsReader>(join_path(tag_dir_, file));
  } catch (const CheckpointError& e) {
    throw CheckpointError(where() + ": shard " + file + " is unreadable: " + e.what());
  }
  return *open_.emplace(file, std::move(reader)).first->second;
}

void CheckpointFiles::read_range(const ParamRecord& param, const std::string& key, int64_t begin, int64_t end,
                                 const at::Tensor& out) {
  const at::Tensor flat = out.view({-1});
  for (const SliceRef& slice : param.slices) {
    const int64_t lo = std::max(begin, slice.begin), hi = std::min(end, slice.end);
    if (lo >= hi) continue;
    const SafetensorsReader& reader = open(slice.file);
    const std::string name = param.name + "." + key;
    if (!reader.contains(name))
      throw CheckpointError(where() + ": shard " + slice.file + " has no tensor " + name);
    if (reader.info(name).numel() != slice.end - slice.begin)
      throw CheckpointError(where() + ": shard " + slice.file + ": " + name + " does not match index.json");
    reader.read_elements_into(name, lo - slice.begin, hi - slice.begin, flat.narrow(0, lo - begin, hi - lo));
  }
}

at::Tensor CheckpointFiles::read_full(const ParamRecord& param, const std::string& key) {
  at::Tensor out = at::empty(param.shape, at::TensorOptions().dtype(at::kFloat));
  read_range(param, key, 0, param.numel(), out);
  return out;
}

}  // namespace zs
