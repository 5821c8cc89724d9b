#include "zs/data/images/image_codec.hpp"

#include <ATen/ops/from_blob.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

// stb's implementations, private to this file: JPEG and PNG only, functions with internal linkage.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_NO_STDIO  // files are read here, so errors name them and report errno
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb_image_write.h>

namespace zs {

at::Tensor decode_image_memory(const uint8_t* data, size_t size, const std::string& name) {
  if (size > size_t(INT32_MAX))
    throw std::runtime_error("cannot decode image '" + name + "': the file is larger than 2 GiB");
  int width = 0, height = 0, channels_in_file = 0;
  // Asking for 3 channels converts grayscale (+alpha) and RGBA to RGB inside stb.
  uint8_t* pixels = stbi_load_from_memory(data, int(size), &width, &height, &channels_in_file, 3);
  if (pixels == nullptr) {
    const char* reason = stbi_failure_reason();
    throw std::runtime_error("cannot decode image '" + name + "': " +
                             (reason != nullptr ? reason : "unknown error") +
                             (size == 0 ? " (the file is empty)" : ""));
  }
  return at::from_blob(pixels, {height, width, 3}, [](void* p) { stbi_image_free(p); }, at::kByte);
}

at::Tensor decode_image_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open image '" + path + "': " + std::strerror(errno));
  const std::streamsize size = in.tellg();
  std::vector<uint8_t> bytes(size_t(size > 0 ? size : 0));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw std::runtime_error("cannot read image '" + path + "'");
  return decode_image_memory(bytes.data(), bytes.size(), path);
}

namespace {

// The pixels as a contiguous HWC uint8 tensor, checked.
at::Tensor checked_hwc(const std::string& path, const at::Tensor& hwc) {
  if (hwc.dim() != 3 || hwc.size(2) < 1 || hwc.size(2) > 4 || hwc.scalar_type() != at::kByte ||
      hwc.size(0) <= 0 || hwc.size(1) <= 0)
    throw std::invalid_argument("cannot write image '" + path + "': expected an [H, W, C] uint8 tensor with C in 1..4, got " +
                                std::string(hwc.scalar_type() == at::kByte ? "uint8 " : "non-uint8 ") +
                                std::to_string(hwc.dim()) + "-d");
  return hwc.contiguous();
}

}  // namespace

void write_png_file(const std::string& path, const at::Tensor& hwc) {
  const at::Tensor img = checked_hwc(path, hwc);
  const int h = int(img.size(0)), w = int(img.size(1)), c = int(img.size(2));
  if (stbi_write_png(path.c_str(), w, h, c, img.data_ptr<uint8_t>(), w * c) == 0)
    throw std::runtime_error("cannot write image '" + path + "'");
}

void write_jpeg_file(const std::string& path, const at::Tensor& hwc, int quality) {
  if (quality < 1 || quality > 100)
    throw std::invalid_argument("JPEG quality must be in 1..100, got " + std::to_string(quality));
  const at::Tensor img = checked_hwc(path, hwc);
  const int h = int(img.size(0)), w = int(img.size(1)), c = int(img.size(2));
  if (stbi_write_jpg(path.c_str(), w, h, c, img.data_ptr<uint8_t>(), quality) == 0)
    throw std::runtime_error("cannot write image '" + path + "'");
}

}  // namespace zs
