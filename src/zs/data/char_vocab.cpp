#include "zs/data/char_vocab.hpp"

#include <ATen/ops/empty.h>

#include <stdexcept>

namespace zs {

CharVocab::CharVocab(const std::string& text) {
  std::array<bool, 256> present{};
  for (unsigned char c : text) present[c] = true;
  byte_to_id_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    if (!present[b]) continue;
    byte_to_id_[b] = static_cast<int>(id_to_byte_.size());
    id_to_byte_.push_back(static_cast<unsigned char>(b));
  }
}

std::vector<uint16_t> CharVocab::encode(const std::string& text) const {
  std::vector<uint16_t> ids;
  ids.reserve(text.size());
  for (unsigned char c : text) {
    if (byte_to_id_[c] < 0)
      throw std::invalid_argument("CharVocab::encode: byte " + std::to_string(int(c)) + " is not in the vocabulary");
    ids.push_back(static_cast<uint16_t>(byte_to_id_[c]));
  }
  return ids;
}

at::Tensor CharVocab::encode_tensor(const std::string& text) const {
  const auto ids = encode(text);
  auto out = at::empty({static_cast<int64_t>(ids.size())}, at::kLong);
  auto* dst = out.data_ptr<int64_t>();
  for (size_t i = 0; i < ids.size(); ++i) dst[i] = ids[i];
  return out;
}

std::string CharVocab::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  text.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0 || id >= size())
      throw std::invalid_argument("CharVocab::decode: id " + std::to_string(id) + " is outside [0, " +
                                  std::to_string(size()) + ")");
    text.push_back(static_cast<char>(id_to_byte_[static_cast<size_t>(id)]));
  }
  return text;
}

std::string CharVocab::decode(const at::Tensor& ids) const {
  auto flat = ids.to(at::kCPU).to(at::kLong).contiguous().reshape({-1});
  const auto* p = flat.data_ptr<int64_t>();
  return decode(std::vector<int64_t>(p, p + flat.numel()));
}

}  // namespace zs
