#pragma once
// TFRecord framing, the container of TensorBoard event files: each record is
//   uint64 length, uint32 masked CRC32C of those 8 bytes, the data, uint32 masked CRC32C of the data
// (little-endian), where masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8.
#include <cstdint>
#include <cstdio>
#include <string>

namespace zs {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `size` bytes.
uint32_t crc32c(const void* data, size_t size);
uint32_t masked_crc32c(const void* data, size_t size);

// One framed record.
std::string tfrecord_frame(const std::string& data);

// Appends records to a file, flushed after each one (a crash loses no written record).
class TfRecordWriter {
 public:
  // Creates (truncates) `path`; throws std::runtime_error naming it when that fails.
  explicit TfRecordWriter(const std::string& path);
  ~TfRecordWriter();
  TfRecordWriter(const TfRecordWriter&) = delete;
  TfRecordWriter& operator=(const TfRecordWriter&) = delete;

  // Throws std::runtime_error when the write fails (disk full, ...).
  void write(const std::string& data);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace zs
