#include "zs/ckpt/safetensors.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fcntl.h>
#include <unistd.h>

#include <ATen/ops/empty.h>
#include <nlohmann/json.hpp>

namespace zs {

namespace {

struct DtypeName {
  const char* name;
  at::ScalarType type;
  int64_t size;
};
const DtypeName kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4},   {"F16", at::kHalf, 2},  {"BF16", at::kBFloat16, 2},
    {"I64", at::kLong, 8},   {"I32", at::kInt, 4},     {"I16", at::kShort, 2}, {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},    {"BOOL", at::kBool, 1},
};

constexpr int64_t kMaxHeaderBytes = 100 << 20;

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// A header's integer as int64: JSON integers only, in range (a float or a wrapped value is not a size).
bool header_int(const nlohmann::json& value, int64_t* out) {
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) return false;
    *out = int64_t(value.get<uint64_t>());
    return true;
  }
  if (!value.is_number_integer()) return false;
  *out = value.get<int64_t>();
  return true;
}

}  // namespace

std::string safetensors_dtype(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.name;
  throw CheckpointError(std::string("safetensors has no dtype for ") + c10::toString(type));
}

at::ScalarType scalar_type_from_safetensors(const std::string& dtype) {
  for (const auto& d : kDtypes)
    if (dtype == d.name) return d.type;
  throw CheckpointError("unsupported safetensors dtype \"" + dtype + "\"");
}

int64_t safetensors_dtype_size(const std::string& dtype) {
  for (const auto& d : kDtypes)
    if (dtype == d.name) return d.size;
  return 0;
}

int64_t TensorInfo::numel() const { return product(shape); }

std::string safetensors_header(std::vector<TensorInfo>& tensors, const SafetensorsMetadata& metadata,
                               const std::string& path) {
  nlohmann::json header = nlohmann::json::object();
  int64_t offset = 0;
  for (TensorInfo& t : tensors) {
    const int64_t size = safetensors_dtype_size(t.dtype);
    if (size == 0) throw CheckpointError(path + ": unsupported dtype \"" + t.dtype + "\" for " + t.name);
    if (header.contains(t.name) || t.name == "__metadata__")
      throw CheckpointError(path + ": tensor name \"" + t.name + "\" used twice or reserved");
    t.data_begin = offset;
    t.data_end = offset += size * t.numel();
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {t.data_begin, t.data_end}}};
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');   // data starts 8-byte aligned
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char(static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i)));
  return out + text;
}

SafetensorsWriter::SafetensorsWriter(const std::string& path, std::vector<TensorInfo> tensors,
                                     const SafetensorsMetadata& metadata)
    : file_(path), tensors_(std::move(tensors)) {
  const std::string header = safetensors_header(tensors_, metadata, path);
  file_.write(header.data(), header.size());
}

void SafetensorsWriter::write(const std::string& name, const at::Tensor& tensor) {
  if (next_ >= tensors_.size() || tensors_[next_].name != name)
    throw CheckpointError(file_.path() + ": tensor " + name + " written out of declaration order");
  const TensorInfo& info = tensors_[next_++];
  if (safetensors_dtype(tensor.scalar_type()) != info.dtype || tensor.numel() != info.numel())
    throw CheckpointError(file_.path() + ": tensor " + name + " does not match its declaration (" + info.dtype + ", " +
                          std::to_string(info.numel()) + " elements)");
  const at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
  file_.write(cpu.data_ptr(), size_t(info.data_end - info.data_begin));
}

FileSummary SafetensorsWriter::finish() {
  if (next_ != tensors_.size())
    throw CheckpointError(file_.path() + ": tensor " + tensors_[next_].name + " was declared but not written");
  return file_.finish();
}

FileSummary write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const SafetensorsMetadata& metadata) {
  std::vector<TensorInfo> infos;
  for (const auto& [name, t] : tensors) infos.push_back({name, safetensors_dtype(t.scalar_type()), t.sizes().vec()});
  SafetensorsWriter writer(path, std::move(infos), metadata);
  for (const auto& [name, t] : tensors) writer.write(name, t);
  return writer.finish();
}

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  const int64_t file_size = file_size_or_minus_one(path);
  if (file_size < 0) throw CheckpointError(path + " is missing");
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw CheckpointError("cannot open " + path + ": " + std::strerror(errno));
  auto corrupt = [&](const std::string& why) { return CheckpointError(path + " has a corrupt header: " + why); };
  try {
    if (file_size < 8) throw CheckpointError(path + " is truncated (" + std::to_string(file_size) + " bytes)");
    unsigned char length[8];
    read_exact(fd_, length, 8, 0, path);
    uint64_t header_bytes = 0;
    for (int i = 0; i < 8; ++i) header_bytes |= uint64_t(length[i]) << (8 * i);
    if (header_bytes > uint64_t(kMaxHeaderBytes)) throw corrupt("header length " + std::to_string(header_bytes));
    if (int64_t(header_bytes) > file_size - 8)
      throw CheckpointError(path + " is truncated (header of " + std::to_string(header_bytes) + " bytes, file of " +
                            std::to_string(file_size) + ")");
    std::string text(header_bytes, '\0');
    read_exact(fd_, text.data(), header_bytes, 8, path);
    data_start_ = 8 + int64_t(header_bytes);

    nlohmann::json header;
    try {
      header = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw corrupt(std::string("not JSON (") + e.what() + ")");
    }
    if (!header.is_object()) throw corrupt("not a JSON object");
    for (const auto& [key, value] : header.items()) {
      if (key == "__metadata__") {
        if (!value.is_object()) throw corrupt("__metadata__ is not an object");
        for (const auto& [mk, mv] : value.items()) {
          if (!mv.is_string()) throw corrupt("__metadata__." + mk + " is not a string");
          metadata_[mk] = mv.get<std::string>();
        }
        continue;
      }
      TensorInfo t;
      t.name = key;
      if (!value.is_object() || !value.contains("dtype") || !value["dtype"].is_string() || !value.contains("shape") ||
          !value["shape"].is_array() || !value.contains("data_offsets") || !value["data_offsets"].is_array() ||
          value["data_offsets"].size() != 2)
        throw corrupt("entry " + key + " lacks dtype, shape or data_offsets");
      t.dtype = value["dtype"].get<std::string>();
      const int64_t element_size = safetensors_dtype_size(t.dtype);
      if (element_size == 0) throw corrupt("entry " + key + " has unknown dtype " + t.dtype);
      // Sizes are checked before any product is taken, so no shape can overflow the counts.
      int64_t numel = 1, bytes = 0;
      for (const auto& d : value["shape"]) {
        int64_t size = 0;
        if (!header_int(d, &size) || size < 0) throw corrupt("entry " + key + " has a bad shape");
        if (numel != 0 && __builtin_mul_overflow(numel, size, &numel))
          throw corrupt("entry " + key + " has a shape of more elements than a file can hold");
        t.shape.push_back(size);
      }
      if (__builtin_mul_overflow(numel, element_size, &bytes))
        throw corrupt("entry " + key + " has a shape of more elements than a file can hold");
      if (!header_int(value["data_offsets"][0], &t.data_begin) || !header_int(value["data_offsets"][1], &t.data_end) ||
          t.data_begin < 0 || t.data_end < t.data_begin)
        throw corrupt("entry " + key + " has bad data_offsets");
      if (t.data_end - t.data_begin != bytes)
        throw corrupt("entry " + key + " has " + std::to_string(t.data_end - t.data_begin) + " bytes for " +
                      std::to_string(numel) + " " + t.dtype + " elements");
      tensors_.push_back(std::move(t));
    }
    std::sort(tensors_.begin(), tensors_.end(),
              [](const TensorInfo& a, const TensorInfo& b) { return a.data_begin < b.data_begin; });
    int64_t expected = 0;
    for (const TensorInfo& t : tensors_) {
      if (t.data_begin != expected) throw corrupt("tensor " + t.name + " overlaps another or leaves a gap");
      expected = t.data_end;
    }
    const int64_t data_bytes = file_size - data_start_;
    if (data_bytes < expected)
      throw CheckpointError(path + " is truncated (" + std::to_string(file_size) + " bytes, the header describes " +
                            std::to_string(uint64_t(data_start_) + uint64_t(expected)) + ")");
    if (data_bytes > expected)
      throw corrupt(std::to_string(data_bytes - expected) + " bytes after the last tensor");
    for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

SafetensorsReader::~SafetensorsReader() {
  if (fd_ >= 0) ::close(fd_);
}

const TensorInfo& SafetensorsReader::info(const std::string& name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) throw CheckpointError(path_ + " has no tensor " + name);
  return tensors_[it->second];
}

at::Tensor SafetensorsReader::read(const std::string& name) const {
  const TensorInfo& t = info(name);
  return read_elements(name, 0, t.numel()).view(t.shape);
}

at::Tensor SafetensorsReader::read_elements(const std::string& name, int64_t begin, int64_t end) const {
  const TensorInfo& t = info(name);
  at::Tensor out = at::empty({std::max<int64_t>(0, end - begin)}, at::TensorOptions().dtype(scalar_type_from_safetensors(t.dtype)));
  read_elements_into(name, begin, end, out);
  return out;
}

void SafetensorsReader::read_elements_into(const std::string& name, int64_t begin, int64_t end,
                                           const at::Tensor& out) const {
  const TensorInfo& t = info(name);
  if (begin < 0 || end > t.numel() || begin > end || out.numel() != end - begin)
    throw CheckpointError(path_ + ": elements [" + std::to_string(begin) + ", " + std::to_string(end) + ") of " + name +
                          " (" + std::to_string(t.numel()) + " elements) do not fit the destination");
  if (begin == end) return;
  const at::ScalarType type = scalar_type_from_safetensors(t.dtype);
  const int64_t element_size = safetensors_dtype_size(t.dtype);
  // Straight into the destination when it is a plain CPU buffer of the same dtype.
  const bool direct = out.device().is_cpu() && out.is_contiguous() && out.scalar_type() == type;
  at::Tensor buffer = direct ? out : at::empty({end - begin}, at::TensorOptions().dtype(type));
  read_exact(fd_, buffer.data_ptr(), size_t((end - begin) * element_size),
             data_start_ + t.data_begin + begin * element_size, path_);
  if (!direct) out.copy_(buffer.view(out.sizes()));
}

}  // namespace zs
