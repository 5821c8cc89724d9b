#pragma once
// What the image loader reads: a fixed list of labelled images, read by index from any thread.
// ImageFolder (JPEG/PNG files), Cifar10 (the binary format) and SyntheticImages implement it.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace zs {

class ImageDataset {
 public:
  virtual ~ImageDataset() = default;

  virtual int64_t size() const = 0;
  virtual int64_t num_classes() const = 0;
  // Sample `index` in [0, size()): its class in [0, num_classes()) and its pixels as a [3, H, W]
  // uint8 RGB tensor (any strides). Safe to call from several threads at once; throws naming the
  // sample (its file) when it cannot be read.
  virtual int64_t label(int64_t index) const = 0;
  virtual at::Tensor image(int64_t index) const = 0;
  // What a message names for sample `index` (a file path, or "<source> record 17").
  virtual std::string sample_name(int64_t index) const = 0;
  // Where the data comes from, for logs and errors.
  virtual std::string source() const = 0;
  // Class names in label order (folder names; CIFAR-10's ten names; "class_<k>" when synthetic).
  virtual std::vector<std::string> class_names() const = 0;
};

}  // namespace zs
