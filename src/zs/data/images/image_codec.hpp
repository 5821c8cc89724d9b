#pragma once
// JPEG and PNG files to and from uint8 RGB tensors, through stb (Debian's libstb-dev: stb_image
// decodes, stb_image_write encodes; both compiled into image_codec.cpp alone, with internal linkage,
// so a program that uses stb itself does not clash with ours).
//
// Decoded images are [H, W, 3] uint8, contiguous, RGB: grayscale and grayscale+alpha are expanded,
// alpha is dropped, 16-bit PNGs are reduced to 8 bits. Only JPEG (baseline and progressive) and PNG
// are read; anything else is refused like a corrupt file.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace zs {

// Throws std::runtime_error "cannot decode image '<path>': <stb's reason>" for a corrupt or
// unsupported file, and a clear error for a missing or unreadable one.
at::Tensor decode_image_file(const std::string& path);
// The same from bytes in memory; `name` appears in error messages.
at::Tensor decode_image_memory(const uint8_t* data, size_t size, const std::string& name);

// Writes an [H, W, C] uint8 tensor: C = 3 (RGB), 1 (gray), 2 (gray + alpha) or 4 (RGBA; JPEG drops
// the alpha). JPEG quality 1..100. Throws naming the path.
void write_png_file(const std::string& path, const at::Tensor& hwc);
void write_jpeg_file(const std::string& path, const at::Tensor& hwc, int quality = 90);

}  // namespace zs
