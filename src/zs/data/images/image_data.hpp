#pragma once
// One --data argument to a train and a validation set with the transforms that suit them:
//   "synthetic"                  SyntheticImages of image_size x image_size, num_classes classes;
//                                CenterCrop (identity) both ways, ImageNet normalisation
//   a CIFAR-10 binary folder     (holds data_batch_1.bin / test_batch.bin, or cifar-10-batches-bin/)
//                                image_size 32: RandomCrop(32, padding 4) + flip / as is; another size:
//                                RandomResizedCrop + flip / Resize to image_size; CIFAR-10 normalisation
//   any other path               an image folder (image_folder.hpp: root/train + root/val, or class
//                                folders with val_fraction held out); RandomResizedCrop + flip /
//                                Resize(image_size * 256 / 224) + CenterCrop; ImageNet normalisation
#include <cstdint>
#include <memory>
#include <string>

#include "zs/data/images/image_dataset.hpp"
#include "zs/data/images/image_transforms.hpp"

namespace zs {

struct ImageDataOptions {
  int64_t image_size = 224;
  int64_t num_classes = 1000;                 // synthetic data only (the others bring their own)
  int64_t synthetic_train_size = 1281167;     // ImageNet-1k's sizes, so epochs are as long
  int64_t synthetic_val_size = 50000;
  double val_fraction = 0.0;                  // image folders without a val/ folder
  uint64_t seed = 1337;                       // synthetic pixels and the held-out split
};

struct ImageData {
  std::shared_ptr<const ImageDataset> train;
  std::shared_ptr<const ImageDataset> val;
  TransformOptions train_transform;
  TransformOptions eval_transform;
  Normalization normalization;
  std::string kind;  // "synthetic", "CIFAR-10" or "image folder"

  // "image folder /data/imagenet: 1281167 train / 50000 val images, 1000 classes, 224x224"
  std::string description() const;
};

// Throws std::runtime_error naming the path for missing or malformed data, std::invalid_argument
// for bad options.
ImageData open_image_data(const std::string& data, const ImageDataOptions& options);

}  // namespace zs
