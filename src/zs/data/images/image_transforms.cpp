#include "zs/data/images/image_transforms.hpp"

#include <ATen/ops/_upsample_bilinear2d_aa.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace zs {

const char* image_transform_name(ImageTransform t) {
  switch (t) {
    case ImageTransform::RandomResizedCropFlip: return "RandomResizedCrop + RandomHorizontalFlip";
    case ImageTransform::ResizeCenterCrop: return "Resize + CenterCrop";
    case ImageTransform::PadRandomCropFlip: return "RandomCrop(padding) + RandomHorizontalFlip";
    case ImageTransform::CenterCrop: return "CenterCrop";
  }
  return "?";
}

Normalization Normalization::imagenet() { return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}}; }
Normalization Normalization::cifar10() { return {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}}; }

namespace {

// Python's round(): half to even (the default floating-point rounding mode).
int64_t round_half_even(double x) { return int64_t(std::nearbyint(x)); }

}  // namespace

CropBox random_resized_crop_box(int64_t height, int64_t width, const std::array<double, 2>& scale,
                                const std::array<double, 2>& ratio, SampleRng& rng) {
  const double area = double(height) * double(width);
  const double log_lo = std::log(ratio[0]), log_hi = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(scale[0], scale[1]);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const int64_t w = round_half_even(std::sqrt(target_area * aspect));
    const int64_t h = round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = rng.randint(0, height - h);
      const int64_t left = rng.randint(0, width - w);
      return {top, left, h, w};
    }
  }
  // Fallback: the whole image, or its centre cut to the nearest allowed aspect ratio.
  const double in_ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (in_ratio < std::min(ratio[0], ratio[1])) {
    h = round_half_even(double(w) / std::min(ratio[0], ratio[1]));
  } else if (in_ratio > std::max(ratio[0], ratio[1])) {
    w = round_half_even(double(h) * std::max(ratio[0], ratio[1]));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

CropBox center_crop_box(int64_t height, int64_t width, int64_t crop_height, int64_t crop_width) {
  // A crop larger than the image pads it first ((crop - size) / 2 before, the rest after).
  auto start = [](int64_t size, int64_t crop) {
    return crop > size ? -((crop - size) / 2) : round_half_even(double(size - crop) / 2.0);
  };
  return {start(height, crop_height), start(width, crop_width), crop_height, crop_width};
}

std::array<int64_t, 2> resize_shorter_side(int64_t height, int64_t width, int64_t size) {
  if (height <= 0 || width <= 0 || size <= 0)
    throw std::invalid_argument("resize: sizes must be positive (image " + std::to_string(height) + "x" +
                                std::to_string(width) + ", target " + std::to_string(size) + ")");
  if (height <= width) return {size, std::max<int64_t>(1, int64_t(double(size) * double(width) / double(height)))};
  return {std::max<int64_t>(1, int64_t(double(size) * double(height) / double(width))), size};
}

at::Tensor resize_bilinear(const at::Tensor& chw, int64_t out_height, int64_t out_width) {
  if (chw.size(1) == out_height && chw.size(2) == out_width) return chw;
  // uint8 in channels-last is the fast path of ATen's antialiased kernel (a few times faster than float).
  const at::Tensor x = chw.unsqueeze(0).contiguous(at::MemoryFormat::ChannelsLast);
  return at::_upsample_bilinear2d_aa(x, {out_height, out_width}, /*align_corners=*/false).squeeze(0);
}

at::Tensor crop(const at::Tensor& chw, const CropBox& box) {
  const int64_t h = chw.size(1), w = chw.size(2);
  if (box.height <= 0 || box.width <= 0) throw std::invalid_argument("crop: empty crop box");
  if (box.top >= 0 && box.left >= 0 && box.top + box.height <= h && box.left + box.width <= w)
    return chw.narrow(1, box.top, box.height).narrow(2, box.left, box.width);
  // Partly outside: zeros around the part inside.
  at::Tensor out = at::zeros({chw.size(0), box.height, box.width}, chw.options());
  const int64_t y0 = std::max<int64_t>(0, box.top), y1 = std::min(h, box.top + box.height);
  const int64_t x0 = std::max<int64_t>(0, box.left), x1 = std::min(w, box.left + box.width);
  if (y1 > y0 && x1 > x0)
    out.narrow(1, y0 - box.top, y1 - y0).narrow(2, x0 - box.left, x1 - x0)
        .copy_(chw.narrow(1, y0, y1 - y0).narrow(2, x0, x1 - x0));
  return out;
}

TransformedImage apply_transform(const at::Tensor& chw, const TransformOptions& o, SampleRng& rng) {
  if (chw.dim() != 3 || chw.size(0) != 3 || chw.scalar_type() != at::kByte)
    throw std::invalid_argument("transform: expected a [3, H, W] uint8 image");
  const int64_t h = chw.size(1), w = chw.size(2), size = o.size;
  switch (o.kind) {
    case ImageTransform::RandomResizedCropFlip: {
      const CropBox box = random_resized_crop_box(h, w, o.scale, o.ratio, rng);
      at::Tensor out = resize_bilinear(crop(chw, box), size, size);
      return {out, rng.coin(o.flip_probability)};
    }
    case ImageTransform::ResizeCenterCrop: {
      const int64_t shorter = o.resize_size > 0 ? o.resize_size : size * 256 / 224;
      const auto [nh, nw] = resize_shorter_side(h, w, shorter);
      const at::Tensor resized = resize_bilinear(chw, nh, nw);
      return {crop(resized, center_crop_box(nh, nw, size, size)), false};
    }
    case ImageTransform::PadRandomCropFlip: {
      const int64_t ph = h + 2 * o.padding, pw = w + 2 * o.padding;
      if (ph < size || pw < size)
        throw std::invalid_argument("random crop of " + std::to_string(size) + " from a " + std::to_string(h) + "x" +
                                    std::to_string(w) + " image padded by " + std::to_string(o.padding));
      const int64_t top = rng.randint(0, ph - size) - o.padding;
      const int64_t left = rng.randint(0, pw - size) - o.padding;
      at::Tensor out = crop(chw, {top, left, size, size});
      return {out, rng.coin(o.flip_probability)};
    }
    case ImageTransform::CenterCrop:
      return {crop(chw, center_crop_box(h, w, size, size)), false};
  }
  throw std::invalid_argument("unknown image transform");
}

void normalize_into(const at::Tensor& chw, bool flip, const Normalization& norm, at::Tensor& out) {
  if (chw.scalar_type() != at::kByte || out.scalar_type() != at::kFloat || chw.dim() != 3 || out.dim() != 3 ||
      chw.sizes() != out.sizes() || chw.size(0) != 3)
    throw std::invalid_argument("normalize_into: expected uint8 and float32 [3, H, W] tensors of one shape");
  // The float value of every byte per channel, computed as torchvision does: x / 255, then (x - mean) / std.
  float table[3][256];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) table[c][v] = (float(v) / 255.0f - norm.mean[c]) / norm.std[c];
  const int64_t H = chw.size(1), W = chw.size(2);
  const uint8_t* in = chw.data_ptr<uint8_t>();
  float* o = out.data_ptr<float>();
  const int64_t ic = chw.stride(0), iy = chw.stride(1), ix = chw.stride(2);
  const int64_t oc = out.stride(0), oy = out.stride(1), ox = out.stride(2);
  auto src_x = [&](int64_t x) { return (flip ? W - 1 - x : x) * ix; };
  if (oc < ox) {  // channels-last output: pixel by pixel
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        for (int64_t c = 0; c < 3; ++c) o[c * oc + y * oy + x * ox] = table[c][in[c * ic + y * iy + src_x(x)]];
  } else {  // planar output: plane by plane
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) o[c * oc + y * oy + x * ox] = table[c][in[c * ic + y * iy + src_x(x)]];
  }
}

}  // namespace zs
