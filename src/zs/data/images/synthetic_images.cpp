#include "zs/data/images/synthetic_images.hpp"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <stdexcept>

#include "zs/data/images/sample_rng.hpp"

namespace zs {

SyntheticImages::SyntheticImages(int64_t size, int64_t num_classes, int64_t height, int64_t width, uint64_t seed)
    : size_(size), num_classes_(num_classes), height_(height), width_(width), seed_(seed) {
  if (size <= 0 || num_classes <= 0 || height <= 0 || width <= 0)
    throw std::invalid_argument("synthetic images need positive size, num_classes, height and width; got " +
                                std::to_string(size) + ", " + std::to_string(num_classes) + ", " +
                                std::to_string(height) + ", " + std::to_string(width));
}

int64_t SyntheticImages::label(int64_t index) const {
  return int64_t(sample_key({seed_, 0x1AB37ull, uint64_t(index)}) % uint64_t(num_classes_));
}

at::Tensor SyntheticImages::image(int64_t index) const {
  if (index < 0 || index >= size_)
    throw std::out_of_range("synthetic image " + std::to_string(index) + " of " + std::to_string(size_));
  at::Tensor out = at::empty({3, height_, width_}, at::kByte);
  uint8_t* p = out.data_ptr<uint8_t>();
  // The class colour: one byte per channel from the label, in 32..223 so the noise fits around it.
  const uint64_t colour = mix64(uint64_t(label(index)) ^ 0xC01005ull);
  SampleRng rng(sample_key({seed_, 0x91C7ull, uint64_t(index)}));
  const int64_t plane = height_ * width_;
  for (int64_t c = 0; c < 3; ++c) {
    const int base = 32 + int((colour >> (8 * c)) & 0xFF) * 3 / 4;
    uint8_t* q = p + c * plane;
    for (int64_t i = 0; i < plane; i += 8) {
      uint64_t r = rng.next();  // eight noise bytes per draw, each in [-32, 31]
      for (int64_t k = i; k < std::min(plane, i + 8); ++k, r >>= 8) q[k] = uint8_t(base + int(r & 63) - 32);
    }
  }
  return out;
}

std::string SyntheticImages::sample_name(int64_t index) const {
  return "synthetic image " + std::to_string(index);
}

std::string SyntheticImages::source() const {
  return "synthetic (" + std::to_string(size_) + " images of " + std::to_string(height_) + "x" +
         std::to_string(width_) + ", " + std::to_string(num_classes_) + " classes, seed " + std::to_string(seed_) + ")";
}

std::vector<std::string> SyntheticImages::class_names() const {
  std::vector<std::string> names;
  for (int64_t k = 0; k < num_classes_; ++k) names.push_back("class_" + std::to_string(k));
  return names;
}

}  // namespace zs
