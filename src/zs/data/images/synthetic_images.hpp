#pragma once
// Synthetic labelled images for benchmarks and smoke runs: nothing stored, sample i generated from
// (seed, i) when read, the same on every machine. The label is a hash of (seed, i) modulo
// num_classes; the pixels are noise around a colour of the label's own, so a model can learn them
// (a falling loss shows the pipeline works end to end).
#include <cstdint>
#include <string>
#include <vector>

#include "zs/data/images/image_dataset.hpp"

namespace zs {

class SyntheticImages : public ImageDataset {
 public:
  // Images of height x width pixels. Throws std::invalid_argument for non-positive sizes.
  SyntheticImages(int64_t size, int64_t num_classes, int64_t height, int64_t width, uint64_t seed);

  int64_t size() const override { return size_; }
  int64_t num_classes() const override { return num_classes_; }
  int64_t label(int64_t index) const override;
  at::Tensor image(int64_t index) const override;  // [3, height, width] uint8, contiguous
  std::string sample_name(int64_t index) const override;
  std::string source() const override;
  std::vector<std::string> class_names() const override;

 private:
  int64_t size_, num_classes_, height_, width_;
  uint64_t seed_;
};

}  // namespace zs
