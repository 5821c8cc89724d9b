#pragma once
// CIFAR-10's binary format (the "CIFAR-10 binary version" archive, cifar-10-batches-bin/):
// data_batch_1.bin .. data_batch_5.bin are the training set, test_batch.bin the test set; each file
// is a run of 3073-byte records: one label byte (0..9), then 32x32 red, 32x32 green, 32x32 blue
// bytes (CHW, rows top to bottom). The whole split is read into memory (150 MB for training).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "zs/data/images/image_dataset.hpp"

namespace zs {

class Cifar10 : public ImageDataset {
 public:
  static constexpr int64_t kRecordBytes = 1 + 3 * 32 * 32;

  // `folder` holds the .bin files (or holds cifar-10-batches-bin/ that does). train: the five data
  // batches; otherwise the test batch. Throws naming the file for a missing file, a size that is not
  // a whole number of records, or a label above 9.
  static std::shared_ptr<Cifar10> open(const std::string& folder, bool train);
  // Records from explicit files (at least one).
  static std::shared_ptr<Cifar10> from_files(const std::vector<std::string>& files, const std::string& source);
  // True when `folder` (or its cifar-10-batches-bin/) holds test_batch.bin or data_batch_1.bin.
  static bool looks_like_cifar10(const std::string& folder);

  int64_t size() const override { return images_.size(0); }
  int64_t num_classes() const override { return 10; }
  int64_t label(int64_t index) const override { return labels_.at(size_t(index)); }
  at::Tensor image(int64_t index) const override { return images_[index]; }  // [3, 32, 32] view
  std::string sample_name(int64_t index) const override;
  std::string source() const override { return source_; }
  std::vector<std::string> class_names() const override;

 private:
  at::Tensor images_;  // [N, 3, 32, 32] uint8
  std::vector<int64_t> labels_;
  std::vector<std::pair<std::string, int64_t>> files_;  // each file and its first record
  std::string source_;
};

}  // namespace zs
