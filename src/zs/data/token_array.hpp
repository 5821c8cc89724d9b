#pragma once
// A read-only run of uint16 token ids, either memory-mapped from a nanoGPT .bin file (so a 17 GB
// OpenWebText train.bin costs no RAM up front) or owned in memory (char-level text).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zs {

class TokenArray {
 public:
  TokenArray() = default;

  // Maps a file of little-endian uint16 tokens. Throws std::runtime_error naming the path when it is
  // missing, unreadable, empty or of odd length.
  static TokenArray map_file(const std::string& path);
  static TokenArray from_vector(std::vector<uint16_t> tokens);

  const uint16_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint16_t operator[](size_t i) const { return data_[i]; }

 private:
  std::shared_ptr<const void> owner_;  // keeps the mapping or the vector alive; copies share it
  const uint16_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace zs
