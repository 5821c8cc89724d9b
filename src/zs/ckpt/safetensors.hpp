// The safetensors format, written and read by hand: 8 bytes little-endian header length N, then
// N bytes of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "string value"}}, then the raw little-endian tensor bytes (offsets are
// relative to the first data byte). Any safetensors reader opens what the writer writes.
//
// The writer streams: the tensors are declared up front (the header needs every offset), then
// written one at a time, so memory stays at one tensor. The reader reads only what is asked for
// (pread of a tensor or of an element range), after validating the whole header.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/ckpt/file_io.hpp"

namespace zs {

// "F32", "BF16", ... for a LibTorch dtype (throws for one safetensors has no name for) and back.
std::string safetensors_dtype(at::ScalarType type);
at::ScalarType scalar_type_from_safetensors(const std::string& dtype);   // throws CheckpointError
int64_t safetensors_dtype_size(const std::string& dtype);                // 0 for an unknown name

struct TensorInfo {
  std::string name;
  std::string dtype;                // safetensors name, e.g. "F32"
  std::vector<int64_t> shape;
  int64_t data_begin = 0, data_end = 0;   // byte offsets relative to the data section
  int64_t numel() const;
};

using SafetensorsMetadata = std::map<std::string, std::string>;

// The file's first bytes for these tensors: the 8-byte length and the JSON header, padded so the
// data starts 8-byte aligned. Fills in each tensor's data offsets (in the given order). Throws
// CheckpointError naming `path` for an unknown dtype or a name used twice.
std::string safetensors_header(std::vector<TensorInfo>& tensors, const SafetensorsMetadata& metadata,
                               const std::string& path);

class SafetensorsWriter {
 public:
  // Declares the tensors (name, dtype, shape; data offsets are filled in) and writes the header.
  SafetensorsWriter(const std::string& path, std::vector<TensorInfo> tensors, const SafetensorsMetadata& metadata = {});
  // The next declared tensor, in declaration order: any layout and device; dtype and element
  // count must match its declaration.
  void write(const std::string& name, const at::Tensor& tensor);
  // Atomically puts the file in place (see AtomicFileWriter); every declared tensor must be written.
  FileSummary finish();

 private:
  AtomicFileWriter file_;
  std::vector<TensorInfo> tensors_;
  size_t next_ = 0;
};

// Writes a whole file from tensors in memory.
FileSummary write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const SafetensorsMetadata& metadata = {});

class SafetensorsReader {
 public:
  // Opens and validates the header: JSON well formed, known dtypes, offsets inside the file,
  // sizes equal to dtype size x shape, tensors packed without gaps or overlaps. Throws
  // CheckpointError naming the file ("... is truncated", "... has a corrupt header: ...").
  explicit SafetensorsReader(const std::string& path);
  ~SafetensorsReader();
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;

  const std::string& path() const { return path_; }
  const SafetensorsMetadata& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }   // in data order
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const;               // throws if absent

  // The whole tensor, with its shape (CPU).
  at::Tensor read(const std::string& name) const;
  // Elements [begin, end) of the flattened tensor, 1-D (CPU).
  at::Tensor read_elements(const std::string& name, int64_t begin, int64_t end) const;
  // Same, into `out` (any device, same element count; converted to out's dtype).
  void read_elements_into(const std::string& name, int64_t begin, int64_t end, const at::Tensor& out) const;

 private:
  std::string path_;
  int fd_ = -1;
  int64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  SafetensorsMetadata metadata_;
};

}  // namespace zs
