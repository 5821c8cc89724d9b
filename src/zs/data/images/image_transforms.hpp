#pragma once
// Augmentation and normalisation with torchvision's semantics, on [3, H, W] uint8 images (any
// strides). Each transform is a crop box in the source, a resize and a flip decision; the pixels
// are touched twice at most: one resize (uint8, channels-last, antialiased bilinear: ATen's
// _upsample_bilinear2d_aa, the kernel behind torchvision's tensor Resize(antialias=True), which
// follows PIL's bilinear filter: on a 500x375 image, resized to 224x224, 341x256 and up from a
// 120x100 crop, it is within 1 level of PIL 13's Image.resize(BILINEAR) in every pixel, 0.2-0.5% of
// them off by one), then one pass that flips, converts to float and normalises straight into the batch.
//
//   RandomResizedCropFlip  training on ImageNet-like data: RandomResizedCrop(size, scale, ratio)
//                          (torchvision's 10 attempts, then its centre-crop fallback) + RandomHorizontalFlip
//   ResizeCenterCrop       evaluation: Resize(shorter side to resize_size), CenterCrop(size)
//   PadRandomCropFlip      CIFAR training: RandomCrop(size, padding) with zero padding + RandomHorizontalFlip
//   CenterCrop             images already near the size (CIFAR test, synthetic): CenterCrop(size),
//                          zero-padded when smaller; the identity when the sizes agree
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <string>

#include "zs/data/images/sample_rng.hpp"

namespace zs {

enum class ImageTransform { RandomResizedCropFlip, ResizeCenterCrop, PadRandomCropFlip, CenterCrop };
const char* image_transform_name(ImageTransform t);

struct TransformOptions {
  ImageTransform kind = ImageTransform::CenterCrop;
  int64_t size = 224;                            // output is size x size
  std::array<double, 2> scale{0.08, 1.0};        // RandomResizedCrop's area share
  std::array<double, 2> ratio{3.0 / 4.0, 4.0 / 3.0};  // RandomResizedCrop's aspect ratio range
  int64_t resize_size = 0;                       // ResizeCenterCrop: the shorter side before the crop;
                                                 // 0: size * 256 / 224 (256 for 224, ImageNet's habit)
  int64_t padding = 4;                           // PadRandomCropFlip
  double flip_probability = 0.5;                 // the *Flip transforms
};

// Per-channel mean and std of images in [0, 1]: out = (pixel / 255 - mean) / std.
struct Normalization {
  std::array<float, 3> mean{0.f, 0.f, 0.f};
  std::array<float, 3> std{1.f, 1.f, 1.f};
  static Normalization imagenet();  // mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)
  static Normalization cifar10();   // CIFAR-10 training set: mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616)
};

// A crop of `height` x `width` pixels whose top-left pixel is (top, left); it may reach outside the
// image (zero padding) only for the padded crops.
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// torchvision's RandomResizedCrop.get_params: up to 10 draws of an area share in scale and a
// log-uniform aspect ratio in ratio, the first box that fits (w = round(sqrt(area * ratio)),
// h = round(sqrt(area / ratio)), rounding half to even as Python does) at a uniform position;
// after 10 misses the whole image, or its centre clamped to the ratio range.
CropBox random_resized_crop_box(int64_t height, int64_t width, const std::array<double, 2>& scale,
                                const std::array<double, 2>& ratio, SampleRng& rng);
// torchvision's CenterCrop position: top = round((height - crop_h) / 2), left likewise (negative
// when the crop is larger: padded).
CropBox center_crop_box(int64_t height, int64_t width, int64_t crop_height, int64_t crop_width);
// torchvision's Resize(size) for an int size: the shorter side becomes `size`, the longer
// int(size * longer / shorter). Returns {new_height, new_width}.
std::array<int64_t, 2> resize_shorter_side(int64_t height, int64_t width, int64_t size);

// [3, H, W] uint8 -> [3, out_h, out_w] uint8, antialiased bilinear (half-pixel centres), rounded.
at::Tensor resize_bilinear(const at::Tensor& chw, int64_t out_height, int64_t out_width);
// The crop of `chw`; parts outside the image are zeros.
at::Tensor crop(const at::Tensor& chw, const CropBox& box);

// One sample through a transform: the [3, size, size] uint8 image and whether to flip it
// (applied by normalize_into). The draws come from `rng` (seeded per sample by the loader).
struct TransformedImage {
  at::Tensor chw;
  bool flip = false;
};
TransformedImage apply_transform(const at::Tensor& chw, const TransformOptions& options, SampleRng& rng);

// Writes (pixel / 255 - mean) / std of `chw` (uint8 [3, H, W], any strides), mirrored left-right
// when `flip`, into `out` (float32 [3, H, W], any strides: a slice of a contiguous or channels-last batch).
void normalize_into(const at::Tensor& chw, bool flip, const Normalization& norm, at::Tensor& out);

}  // namespace zs
