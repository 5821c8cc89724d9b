#pragma once
// The ImageFolder layout: root/<class>/<image files>, as torchvision's ImageFolder and ImageNet's
// prepared train/val folders have it.
//   - classes are the sub-folders of root, sorted by name (label k = k-th name); hidden ones
//     (".name") are skipped;
//   - a class's images are its files ending in .jpg, .jpeg or .png (any case), sorted by name;
//     other files are ignored; sub-folders of a class are not searched;
//   - errors name the folder: a missing root, a root without class folders, a class without images.
// Images decode when read (image_codec.hpp), so a corrupt file fails at its first use, naming it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "zs/data/images/image_dataset.hpp"

namespace zs {

class ImageFolder : public ImageDataset {
 public:
  struct Entry {
    std::string path;
    int64_t label = 0;
  };

  // Lists root/<class>/<files>. Throws std::runtime_error naming what is missing or empty.
  static std::shared_ptr<ImageFolder> open(const std::string& root);
  // Explicit entries (a held-out part of a folder); labels must be in [0, class_names.size()).
  ImageFolder(std::string source, std::vector<std::string> class_names, std::vector<Entry> entries);

  int64_t size() const override { return int64_t(entries_.size()); }
  int64_t num_classes() const override { return int64_t(class_names_.size()); }
  int64_t label(int64_t index) const override { return entries_.at(size_t(index)).label; }
  at::Tensor image(int64_t index) const override;  // [3, H, W] view of the decoded [H, W, 3]
  std::string sample_name(int64_t index) const override { return entries_.at(size_t(index)).path; }
  std::string source() const override { return source_; }
  std::vector<std::string> class_names() const override { return class_names_; }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::string source_;
  std::vector<std::string> class_names_;
  std::vector<Entry> entries_;
};

// Train and validation sets of one image root:
//   - root/train/ is a folder: root/train and root/val are ImageFolders (ImageNet's prepared
//     layout); both must have the same classes. Without root/val, a val_fraction > 0 holds out
//     that share of root/train (else: an error saying so).
//   - otherwise root itself holds the class folders, and val_fraction > 0 holds out that share.
// The held-out part is stratified: round(val_fraction * n) images of each class of n images (at
// least one when val_fraction > 0, never all), chosen by a seeded shuffle of the sorted names, so
// every rank and every rerun with the same seed gets the same split.
struct ImageFolderSplits {
  std::shared_ptr<ImageFolder> train;
  std::shared_ptr<ImageFolder> val;
};
ImageFolderSplits open_image_folder_splits(const std::string& root, double val_fraction = 0.0, uint64_t seed = 0);

// True for names ending in .jpg, .jpeg or .png, any case.
bool is_image_file_name(const std::string& name);

}  // namespace zs
