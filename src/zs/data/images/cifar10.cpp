#include "zs/data/images/cifar10.hpp"

#include <ATen/ops/empty.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "zs/data/images/file_listing.hpp"

namespace zs {

namespace {

std::string data_dir(const std::string& folder) {
  const std::string nested = path_join(folder, "cifar-10-batches-bin");
  return is_folder(nested) ? nested : folder;
}

}  // namespace

bool Cifar10::looks_like_cifar10(const std::string& folder) {
  const std::string dir = data_dir(folder);
  return size_of_file(path_join(dir, "test_batch.bin")) >= 0 || size_of_file(path_join(dir, "data_batch_1.bin")) >= 0;
}

std::shared_ptr<Cifar10> Cifar10::open(const std::string& folder, bool train) {
  if (!is_folder(folder)) throw std::runtime_error("CIFAR-10 folder '" + folder + "' does not exist");
  const std::string dir = data_dir(folder);
  std::vector<std::string> files;
  if (train) {
    for (int k = 1; k <= 5; ++k) files.push_back(path_join(dir, "data_batch_" + std::to_string(k) + ".bin"));
  } else {
    files.push_back(path_join(dir, "test_batch.bin"));
  }
  return from_files(files, dir + (train ? " (CIFAR-10 train)" : " (CIFAR-10 test)"));
}

std::shared_ptr<Cifar10> Cifar10::from_files(const std::vector<std::string>& files, const std::string& source) {
  if (files.empty()) throw std::invalid_argument("CIFAR-10: no files given");
  auto out = std::make_shared<Cifar10>();
  out->source_ = source;
  int64_t total = 0;
  std::vector<int64_t> counts;
  for (const std::string& path : files) {
    if (!is_plain_file(path)) throw std::runtime_error("CIFAR-10 file '" + path + "' does not exist");
    const int64_t bytes = size_of_file(path);
    if (bytes == 0 || bytes % kRecordBytes != 0)
      throw std::runtime_error("CIFAR-10 file '" + path + "' is " + std::to_string(bytes) +
                               " bytes, not a whole number of 3073-byte records (1 label byte + 3072 pixel bytes; "
                               "10000 records make 30730000 bytes)");
    counts.push_back(bytes / kRecordBytes);
    total += counts.back();
  }
  out->images_ = at::empty({total, 3, 32, 32}, at::kByte);
  out->labels_.resize(size_t(total));
  uint8_t* pixels = out->images_.data_ptr<uint8_t>();
  std::vector<char> record(static_cast<size_t>(kRecordBytes));
  int64_t i = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    std::ifstream in(files[f], std::ios::binary);
    if (!in) throw std::runtime_error("cannot open CIFAR-10 file '" + files[f] + "': " + std::strerror(errno));
    out->files_.emplace_back(files[f], i);
    for (int64_t r = 0; r < counts[f]; ++r, ++i) {
      if (!in.read(record.data(), kRecordBytes))
        throw std::runtime_error("cannot read CIFAR-10 file '" + files[f] + "' (record " + std::to_string(r) + ")");
      const auto label = int64_t(uint8_t(record[0]));
      if (label > 9)
        throw std::runtime_error("CIFAR-10 file '" + files[f] + "' record " + std::to_string(r) + " has label " +
                                 std::to_string(label) + " (CIFAR-10 labels are 0..9)");
      out->labels_[size_t(i)] = label;
      std::memcpy(pixels + i * (kRecordBytes - 1), record.data() + 1, size_t(kRecordBytes - 1));
    }
  }
  return out;
}

std::string Cifar10::sample_name(int64_t index) const {
  for (size_t f = files_.size(); f-- > 0;) {
    if (index >= files_[f].second) return files_[f].first + " record " + std::to_string(index - files_[f].second);
  }
  return source_ + " record " + std::to_string(index);
}

std::vector<std::string> Cifar10::class_names() const {
  return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
}

}  // namespace zs
