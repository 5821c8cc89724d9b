// Reading one checkpoint's shard files: each file is opened on first use and checked against the
// index first (present, size, CRC32), so a damaged shard is reported by name before any of its
// bytes are used. Parameters are read by element range from whichever files hold the range.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>

#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/safetensors.hpp"

namespace zs {

class CheckpointFiles {
 public:
  // `verify`: check size and CRC32 of each file on first open (reads the file once more).
  CheckpointFiles(std::string dir, std::string tag, const CheckpointIndex& index, bool verify = true);

  std::string where() const { return "checkpoint " + tag_dir_; }
  const std::string& tag_dir() const { return tag_dir_; }

  // "" when the file is as the index says, else the problem: "missing", "truncated",
  // "corrupted (size mismatch)", "corrupted (crc32 mismatch)".
  std::string check_file(const FileRecord& file) const;

  // The verified reader of `file`. Throws CheckpointError
  // "checkpoint <dir>/<tag>: shard <file> is corrupted (crc32 mismatch)" and the like.
  const SafetensorsReader& open(const std::string& file);

  // Elements [begin, end) of the flattened `param`'s `key` ("master", "exp_avg", ...) into `out`
  // (any device and dtype, end - begin elements), from the slices that overlap the range.
  void read_range(const ParamRecord& param, const std::string& key, int64_t begin, int64_t end, const at::Tensor& out);
  // The whole parameter's `key`, fp32 on the CPU, in its shape.
  at::Tensor read_full(const ParamRecord& param, const std::string& key);

 private:
  std::string tag_dir_;
  const CheckpointIndex& index_;
  bool verify_;
  std::map<std::string, std::unique_ptr<SafetensorsReader>> open_;
};

}  // namespace zs
