#pragma once
// Character-level vocabulary over bytes: the sorted set of distinct bytes of a text. Working on bytes
// rather than Unicode code points keeps it simple and exact for any UTF-8 input (a multi-byte
// character becomes several tokens; decoding the whole sequence gives the text back).
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace zs {

class CharVocab {
 public:
  CharVocab() = default;
  explicit CharVocab(const std::string& text);  // vocabulary of the bytes present in text

  int64_t size() const { return static_cast<int64_t>(id_to_byte_.size()); }
  bool contains(unsigned char c) const { return byte_to_id_[c] >= 0; }

  // Throws std::invalid_argument for a byte not in the vocabulary.
  std::vector<uint16_t> encode(const std::string& text) const;
  at::Tensor encode_tensor(const std::string& text) const;  // [n] int64
  std::string decode(const std::vector<int64_t>& ids) const;
  std::string decode(const at::Tensor& ids) const;  // any integer tensor, flattened

 private:
  std::vector<unsigned char> id_to_byte_;
  std::array<int, 256> byte_to_id_{};
};

}  // namespace zs
