#include "zs/data/images/image_folder.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "zs/base/strings.hpp"
#include "zs/data/images/file_listing.hpp"
#include "zs/data/images/image_codec.hpp"
#include "zs/data/images/sample_rng.hpp"

namespace zs {

bool is_image_file_name(const std::string& name) {
  const std::string lower = ascii_lowercase(name);
  auto ends_with = [&](const std::string& suffix) {
    return lower.size() > suffix.size() && lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".jpg") || ends_with(".jpeg") || ends_with(".png");
}

namespace {

// Sorted names in `dir` that are not hidden and pass `keep(full path)`.
template <class Keep>
std::vector<std::string> visible_names(const std::string& dir, Keep keep) {
  std::vector<std::string> names;
  for (const std::string& name : list_folder(dir))
    if (name[0] != '.' && keep(path_join(dir, name))) names.push_back(name);
  return names;
}

}  // namespace

ImageFolder::ImageFolder(std::string source, std::vector<std::string> class_names, std::vector<Entry> entries)
    : source_(std::move(source)), class_names_(std::move(class_names)), entries_(std::move(entries)) {
  for (const Entry& e : entries_) {
    if (e.label < 0 || e.label >= int64_t(class_names_.size()))
      throw std::invalid_argument("image '" + e.path + "' has label " + std::to_string(e.label) + " outside the " +
                                  std::to_string(class_names_.size()) + " classes of '" + source_ + "'");
  }
}

std::shared_ptr<ImageFolder> ImageFolder::open(const std::string& root) {
  if (!is_folder(root)) {
    throw std::runtime_error("image folder '" + root + (size_of_file(root) < 0 ? "' does not exist" : "' is not a folder"));
  }
  const std::vector<std::string> classes = visible_names(root, [](const std::string& p) { return is_folder(p); });
  if (classes.empty())
    throw std::runtime_error("image folder '" + root + "' has no class folders (expected " + root +
                             "/<class>/<image>.jpg|.jpeg|.png)");
  std::vector<Entry> entries;
  for (size_t k = 0; k < classes.size(); ++k) {
    const std::string class_dir = path_join(root, classes[k]);
    const std::vector<std::string> files = visible_names(class_dir, [](const std::string& p) {
      return !is_folder(p) && is_image_file_name(p);
    });
    if (files.empty())
      throw std::runtime_error("class folder '" + class_dir + "' holds no .jpg, .jpeg or .png file");
    for (const std::string& f : files) entries.push_back({path_join(class_dir, f), int64_t(k)});
  }
  return std::make_shared<ImageFolder>(root, classes, std::move(entries));
}

at::Tensor ImageFolder::image(int64_t index) const {
  return decode_image_file(entries_.at(size_t(index)).path).permute({2, 0, 1});
}

namespace {

// Splits `all` per class: round(fraction * n) of each class (at least 1, at most n - 1) to val.
ImageFolderSplits hold_out(const ImageFolder& all, double fraction, uint64_t seed) {
  std::vector<std::vector<ImageFolder::Entry>> by_class(size_t(all.num_classes()));
  for (const auto& e : all.entries()) by_class[size_t(e.label)].push_back(e);
  std::vector<ImageFolder::Entry> train, val;
  for (size_t k = 0; k < by_class.size(); ++k) {
    auto& files = by_class[k];
    const int64_t n = int64_t(files.size());
    if (n < 2)
      throw std::runtime_error("class '" + all.class_names()[k] + "' of '" + all.source() + "' has " +
                               std::to_string(n) + " image; holding out a validation share needs at least 2 per class");
    const int64_t n_val = std::clamp<int64_t>(int64_t(std::llround(fraction * double(n))), 1, n - 1);
    SampleRng rng(sample_key({seed, 0x7A1DA7Eull, k}));
    for (int64_t i = n - 1; i > 0; --i) std::swap(files[size_t(i)], files[size_t(rng.randint(0, i))]);
    // The chosen ones, back in name order within each part.
    std::vector<ImageFolder::Entry> v(files.begin(), files.begin() + n_val), t(files.begin() + n_val, files.end());
    auto by_path = [](const ImageFolder::Entry& a, const ImageFolder::Entry& b) { return a.path < b.path; };
    std::sort(v.begin(), v.end(), by_path);
    std::sort(t.begin(), t.end(), by_path);
    val.insert(val.end(), v.begin(), v.end());
    train.insert(train.end(), t.begin(), t.end());
  }
  const std::string share = " (" + std::to_string(fraction) + " held out, seed " + std::to_string(seed) + ")";
  return {std::make_shared<ImageFolder>(all.source() + share + " train", all.class_names(), std::move(train)),
          std::make_shared<ImageFolder>(all.source() + share + " val", all.class_names(), std::move(val))};
}

}  // namespace

ImageFolderSplits open_image_folder_splits(const std::string& root, double val_fraction, uint64_t seed) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0))
    throw std::invalid_argument("val_fraction must be in [0, 1), got " + std::to_string(val_fraction));
  if (size_of_file(root) < 0) throw std::runtime_error("image folder '" + root + "' does not exist");
  const bool split_layout = is_folder(path_join(root, "train"));
  const std::string train_root = split_layout ? path_join(root, "train") : root;
  const std::string val_root = path_join(root, "val");
  if (split_layout && is_folder(val_root)) {
    ImageFolderSplits s{ImageFolder::open(train_root), ImageFolder::open(val_root)};
    if (s.train->class_names() != s.val->class_names())
      throw std::runtime_error("image folders '" + train_root + "' (" + std::to_string(s.train->num_classes()) +
                               " classes) and '" + val_root + "' (" + std::to_string(s.val->num_classes()) +
                               " classes) do not have the same class folders");
    return s;
  }
  if (val_fraction <= 0.0)
    throw std::runtime_error("image folder '" + root + "' has no " + (split_layout ? "val" : "train/ and val/") +
                             " folder; give a validation fraction to hold out part of '" + train_root + "'");
  return hold_out(*ImageFolder::open(train_root), val_fraction, seed);
}

}  // namespace zs
