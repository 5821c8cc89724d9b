#pragma once
// A read-only run of token ids, uint16 or uint32 (vocabularies past 65,535, such as Llama 3's),
// either memory-mapped from a nanoGPT-style .bin file (so a 17 GB OpenWebText train.bin costs no
// RAM up front) or owned in memory (char-level text, a tokenizer's output).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zs {

class TokenArray {
 public:
  TokenArray() = default;

  // Maps a file of little-endian tokens of `token_bytes` (2: uint16, 4: uint32) each. Throws
  // std::runtime_error naming the path when it is missing, unreadable, empty or not a whole
  // number of tokens.
  static TokenArray map_file(const std::string& path, int token_bytes = 2);
  static TokenArray from_vector(std::vector<uint16_t> tokens);
  static TokenArray from_vector(std::vector<uint32_t> tokens);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int token_bytes() const { return token_bytes_; }
  int64_t operator[](size_t i) const {
    return token_bytes_ == 2 ? int64_t(static_cast<const uint16_t*>(data_)[i]) : int64_t(static_cast<const uint32_t*>(data_)[i]);
  }
  // Tokens [offset, offset + count) as int64 into `out`.
  void copy_to(size_t offset, size_t count, int64_t* out) const;

 private:
  std::shared_ptr<const void> owner_;  // keeps the mapping or the vector alive; copies share it
  const void* data_ = nullptr;
  size_t size_ = 0;
  int token_bytes_ = 2;
};

}  // namespace zs
