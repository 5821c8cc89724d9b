// Image data layer: JPEG/PNG decoding, ImageFolder, CIFAR-10's binary format, synthetic images,
// torchvision-style transforms, the threaded loader's world-size independent batches, top-k counts.
// Every image is a real file the test writes with stb_image_write into a temporary folder.
#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/flip.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "zs/data/images/cifar10.hpp"
#include "zs/data/images/image_codec.hpp"
#include "zs/data/images/image_data.hpp"
#include "zs/data/images/image_folder.hpp"
#include "support/error_of.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "zs/data/images/image_loader.hpp"
#include "zs/data/images/image_transforms.hpp"
#include "zs/data/images/synthetic_images.hpp"
#include "zs/data/images/topk_accuracy.hpp"

namespace test_image_data {

namespace {

using namespace zs;
using zs::testing::TempDir;

void make_dir(const std::string& path) { ASSERT_EQ(::mkdir(path.c_str(), 0755), 0) << path; }
using zs::testing::write_text;

// A deterministic [H, W, C] uint8 image: noise (`smooth` false) or a smooth pattern that JPEG keeps well.
at::Tensor test_image(int64_t h, int64_t w, int64_t c, uint64_t seed, bool smooth) {
  at::Tensor img = at::empty({h, w, c}, at::kByte);
  uint8_t* p = img.data_ptr<uint8_t>();
  SampleRng rng(seed);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k)
        p[(y * w + x) * c + k] = smooth ? uint8_t(40 + (x * 150 / w) + (y * 50 / h) + k * 10 + int(seed % 7) * 5)
                                        : uint8_t(rng.next() & 255);
  return img;
}

using zs::testing::error_of;

// ---- decoding -------------------------------------------------------------------------------------

TEST(ImageCodec, PngIsBitExactAndJpegIsClose) {
  TempDir dir;
  const at::Tensor noise = test_image(23, 37, 3, 1, false);
  write_png_file(dir / "a.png", noise);
  const at::Tensor png = decode_image_file(dir / "a.png");
  EXPECT_EQ(png.sizes(), noise.sizes());
  EXPECT_TRUE(at::equal(png, noise));

  // JPEG at quality 95 on a smooth image: mean error below 2 levels, none above 16 (stated tolerance).
  const at::Tensor smooth = test_image(48, 64, 3, 2, true);
  write_jpeg_file(dir / "b.jpg", smooth, 95);
  const at::Tensor jpg = decode_image_file(dir / "b.jpg");
  ASSERT_EQ(jpg.sizes(), smooth.sizes());
  const at::Tensor diff = at::abs(jpg.to(at::kInt) - smooth.to(at::kInt));
  EXPECT_LT(diff.to(at::kFloat).mean().item<float>(), 2.0f);
  EXPECT_LE(diff.max().item<int>(), 16);
}

TEST(ImageCodec, GrayAndRgbaBecomeRgb) {
  TempDir dir;
  const at::Tensor gray = test_image(9, 11, 1, 3, false);
  write_png_file(dir / "g.png", gray);
  const at::Tensor g = decode_image_file(dir / "g.png");
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{9, 11, 3}));
  for (int64_t c = 0; c < 3; ++c) EXPECT_TRUE(at::equal(g.select(2, c), gray.select(2, 0)));

  const at::Tensor rgba = test_image(7, 5, 4, 4, false);
  write_png_file(dir / "r.png", rgba);
  const at::Tensor r = decode_image_file(dir / "r.png");
  EXPECT_TRUE(at::equal(r, rgba.narrow(2, 0, 3)));  // alpha dropped, colour kept
}

TEST(ImageCodec, CorruptMissingAndUnsupportedFilesNameTheFile) {
  TempDir dir;
  write_text(dir / "broken.jpg", "this is not a JPEG at all");
  std::string e = error_of([&] { decode_image_file(dir / "broken.jpg"); });
  EXPECT_NE(e.find("broken.jpg"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot decode image"), std::string::npos) << e;
  // A truncated PNG (its header only).
  write_png_file(dir / "whole.png", test_image(16, 16, 3, 5, false));
  std::ifstream in(dir / "whole.png", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_text(dir / "cut.png", bytes.substr(0, 40));
  e = error_of([&] { decode_image_file(dir / "cut.png"); });
  EXPECT_NE(e.find("cut.png"), std::string::npos) << e;
  // A BMP header: a real format, but not one we read.
  write_text(dir / "pic.png", std::string("BM") + std::string(60, '\0'));
  e = error_of([&] { decode_image_file(dir / "pic.png"); });
  EXPECT_NE(e.find("pic.png"), std::string::npos) << e;
  e = error_of([&] { decode_image_file(dir / "absent.png"); });
  EXPECT_NE(e.find("absent.png"), std::string::npos) << e;
}

// ---- ImageFolder ----------------------------------------------------------------------------------

// root/<class>/ for each class, `per_class` images each (JPEG and PNG, mixed-case extensions) of
// varied sizes, plus files that must be ignored.
void write_image_folder(const std::string& root, const std::vector<std::string>& classes, int per_class, uint64_t seed) {
  make_dir(root);
  for (size_t k = 0; k < classes.size(); ++k) {
    const std::string dir = root + "/" + classes[k];
    make_dir(dir);
    for (int i = 0; i < per_class; ++i) {
      const at::Tensor img = test_image(24 + 3 * i, 30 + 2 * int64_t(k), 3, seed + k * 100 + i, true);
      const std::string stem = dir + "/img" + std::to_string(i);
      if (i % 3 == 0) write_png_file(stem + ".png", img);
      else if (i % 3 == 1) write_jpeg_file(stem + ".JPG", img, 90);
      else write_jpeg_file(stem + ".jpeg", img, 90);
    }
    write_text(dir + "/notes.txt", "not an image");
    write_text(dir + "/.hidden.png", "ignored");
  }
}

TEST(ImageFolderData, ListsSortedClassesAndFiles) {
  TempDir dir;
  write_image_folder(dir / "root", {"zebra", "cat", "dog"}, 4, 10);
  const auto folder = ImageFolder::open(dir / "root");
  EXPECT_EQ(folder->class_names(), (std::vector<std::string>{"cat", "dog", "zebra"}));
  ASSERT_EQ(folder->size(), 12);
  EXPECT_EQ(folder->num_classes(), 3);
  EXPECT_EQ(folder->sample_name(0), dir / "root/cat/img0.png");
  EXPECT_EQ(folder->sample_name(1), dir / "root/cat/img1.JPG");
  EXPECT_EQ(folder->sample_name(2), dir / "root/cat/img2.jpeg");
  EXPECT_EQ(folder->label(5), 1);
  EXPECT_EQ(folder->label(11), 2);
  const at::Tensor img = folder->image(4);  // dog/img0.png, 24 x 34 (dog was written third)
  EXPECT_EQ(img.sizes(), (std::vector<int64_t>{3, 24, 34}));
  EXPECT_TRUE(is_image_file_name("a.PnG") && is_image_file_name("b.JpEg") && !is_image_file_name("c.gif"));
}

TEST(ImageFolderData, ErrorsNameTheFolder) {
  TempDir dir;
  std::string e = error_of([&] { ImageFolder::open(dir / "missing"); });
  EXPECT_NE(e.find("missing' does not exist"), std::string::npos) << e;
  make_dir(dir / "flat");
  write_text(dir / "flat/a.png", "x");
  e = error_of([&] { ImageFolder::open(dir / "flat"); });
  EXPECT_NE(e.find("has no class folders"), std::string::npos) << e;
  write_image_folder(dir / "root", {"a", "b"}, 2, 20);
  make_dir(dir / "root/empty");
  write_text(dir / "root/empty/readme.txt", "no images here");
  e = error_of([&] { ImageFolder::open(dir / "root"); });
  EXPECT_NE(e.find("root/empty' holds no .jpg, .jpeg or .png file"), std::string::npos) << e;
  e = error_of([&] { open_image_folder_splits(dir / "nowhere"); });
  EXPECT_NE(e.find("nowhere' does not exist"), std::string::npos) << e;
}

TEST(ImageFolderData, TrainValFoldersAndHeldOutShare) {
  TempDir dir;
  make_dir(dir / "imagenet");
  write_image_folder(dir / "imagenet/train", {"a", "b"}, 5, 30);
  write_image_folder(dir / "imagenet/val", {"a", "b"}, 2, 40);
  const auto splits = open_image_folder_splits(dir / "imagenet");
  EXPECT_EQ(splits.train->size(), 10);
  EXPECT_EQ(splits.val->size(), 4);

  // No val folder: refused without a fraction; with 0.4, 2 of each class's 5 go to val, the same every time.
  write_image_folder(dir / "flat", {"a", "b", "c"}, 5, 50);
  EXPECT_NE(error_of([&] { open_image_folder_splits(dir / "flat"); }).find("validation fraction"), std::string::npos);
  const auto held = open_image_folder_splits(dir / "flat", 0.4, 7);
  const auto again = open_image_folder_splits(dir / "flat", 0.4, 7);
  EXPECT_EQ(held.train->size(), 9);
  ASSERT_EQ(held.val->size(), 6);
  std::set<std::string> all;
  for (int64_t i = 0; i < held.val->size(); ++i) {
    EXPECT_EQ(held.val->sample_name(i), again.val->sample_name(i));
    EXPECT_EQ(held.val->label(i), i / 2);  // stratified
    all.insert(held.val->sample_name(i));
  }
  for (int64_t i = 0; i < held.train->size(); ++i) all.insert(held.train->sample_name(i));
  EXPECT_EQ(all.size(), 15u);  // disjoint, together the whole folder

  // root/train without root/val: the share comes out of train/.
  make_dir(dir / "trainonly");
  write_image_folder(dir / "trainonly/train", {"a", "b"}, 4, 80);
  EXPECT_NE(error_of([&] { open_image_folder_splits(dir / "trainonly"); }).find("has no val folder"), std::string::npos);
  const auto part = open_image_folder_splits(dir / "trainonly", 0.25, 1);
  EXPECT_EQ(part.train->size(), 6);
  EXPECT_EQ(part.val->size(), 2);
  EXPECT_NE(part.val->sample_name(0).find("trainonly/train/a/"), std::string::npos);
  // Different class folders in train/ and val/ are refused.
  write_image_folder(dir / "trainonly/val", {"a", "c"}, 1, 90);
  EXPECT_NE(error_of([&] { open_image_folder_splits(dir / "trainonly"); }).find("do not have the same class folders"),
            std::string::npos);
}

// ---- CIFAR-10 -------------------------------------------------------------------------------------

std::string cifar_records(int count, int first_label) {
  std::string bytes;
  for (int r = 0; r < count; ++r) {
    bytes.push_back(char((first_label + r) % 10));
    for (int i = 0; i < 3072; ++i) bytes.push_back(char((i * 7 + r * 31) & 255));
  }
  return bytes;
}

TEST(Cifar10Data, ReadsRecordsAsChwAndRejectsBadFiles) {
  TempDir dir;
  for (int k = 1; k <= 5; ++k) write_text(dir / ("data_batch_" + std::to_string(k) + ".bin"), cifar_records(2, k));
  write_text(dir / "test_batch.bin", cifar_records(3, 0));
  EXPECT_TRUE(Cifar10::looks_like_cifar10(dir.path()));
  const auto train = Cifar10::open(dir.path(), true);
  const auto test = Cifar10::open(dir.path(), false);
  ASSERT_EQ(train->size(), 10);
  ASSERT_EQ(test->size(), 3);
  EXPECT_EQ(train->label(0), 1);
  EXPECT_EQ(train->label(9), 6);  // data_batch_5 record 1: (5 + 1) % 10
  EXPECT_NE(train->sample_name(9).find("data_batch_5.bin record 1"), std::string::npos);
  const at::Tensor img = test->image(2);
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 32, 32}));
  // Channel c, row y, column x is byte 1 + c*1024 + y*32 + x of the record.
  for (int c = 0; c < 3; ++c)
    for (int y : {0, 5, 31})
      for (int x : {0, 17, 31}) {
        const int i = c * 1024 + y * 32 + x;
        EXPECT_EQ(img[c][y][x].item<uint8_t>(), uint8_t((i * 7 + 2 * 31) & 255));
      }
  write_text(dir / "short.bin", cifar_records(1, 0) + "xyz");
  std::string e = error_of([&] { Cifar10::from_files({dir / "short.bin"}, "t"); });
  EXPECT_NE(e.find("short.bin' is 3076 bytes, not a whole number of 3073-byte records"), std::string::npos) << e;
  std::string bad = cifar_records(1, 0);
  bad[0] = char(12);
  write_text(dir / "label.bin", bad);
  e = error_of([&] { Cifar10::from_files({dir / "label.bin"}, "t"); });
  EXPECT_NE(e.find("label.bin' record 0 has label 12"), std::string::npos) << e;
  e = error_of([&] { Cifar10::open(dir / "nothing", true); });
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
}

TEST(SyntheticData, DeterministicPerIndex) {
  SyntheticImages a(100, 10, 16, 12, 3), b(100, 10, 16, 12, 3), c(100, 10, 16, 12, 4);
  EXPECT_TRUE(at::equal(a.image(42), b.image(42)));
  EXPECT_FALSE(at::equal(a.image(42), c.image(42)));
  EXPECT_FALSE(at::equal(a.image(42), a.image(43)));
  EXPECT_EQ(a.image(0).sizes(), (std::vector<int64_t>{3, 16, 12}));
  std::set<int64_t> labels;
  for (int64_t i = 0; i < 100; ++i) {
    EXPECT_EQ(a.label(i), b.label(i));
    labels.insert(a.label(i));
  }
  EXPECT_EQ(labels.size(), 10u);
  EXPECT_GE(*labels.begin(), 0);
  EXPECT_LT(*labels.rbegin(), 10);
}

// ---- transforms -----------------------------------------------------------------------------------

TEST(ImageTransforms, CropAndResizeGeometry) {
  // CenterCrop: round((h - crop) / 2) with Python's half-to-even rounding.
  CropBox box = center_crop_box(256, 300, 224, 224);
  EXPECT_EQ(box.top, 16);
  EXPECT_EQ(box.left, 38);
  EXPECT_EQ(center_crop_box(229, 231, 224, 224).top, 2);   // 2.5 -> 2
  EXPECT_EQ(center_crop_box(229, 231, 224, 224).left, 4);  // 3.5 -> 4
  EXPECT_EQ(center_crop_box(28, 40, 32, 32).top, -2);      // larger than the image: padded
  // Resize(256) of a 500 x 375 (W x H) photo: 341 x 256.
  EXPECT_EQ(resize_shorter_side(375, 500, 256), (std::array<int64_t, 2>{256, 341}));
  EXPECT_EQ(resize_shorter_side(500, 375, 256), (std::array<int64_t, 2>{341, 256}));

  // RandomResizedCrop boxes lie inside the image with area share and aspect ratio in range.
  SampleRng rng(9);
  for (int i = 0; i < 500; ++i) {
    const CropBox b = random_resized_crop_box(375, 500, {0.08, 1.0}, {3.0 / 4.0, 4.0 / 3.0}, rng);
    ASSERT_TRUE(b.top >= 0 && b.left >= 0 && b.top + b.height <= 375 && b.left + b.width <= 500);
    const double share = double(b.height * b.width) / (375.0 * 500.0);
    EXPECT_GT(share, 0.07);
    EXPECT_LE(share, 1.0);
    const double ratio = double(b.width) / double(b.height);
    EXPECT_GT(ratio, 0.70);
    EXPECT_LT(ratio, 1.40);
  }
  // A sliver no draw fits: torchvision's fallback, the centre cut to ratio 3/4.
  box = random_resized_crop_box(1000, 10, {0.08, 1.0}, {3.0 / 4.0, 4.0 / 3.0}, rng);
  EXPECT_EQ(box.width, 10);
  EXPECT_EQ(box.height, 13);
  EXPECT_EQ(box.top, 493);
  EXPECT_EQ(box.left, 0);
}

TEST(ImageTransforms, ResizeKeepsFlatImagesAndRamps) {
  at::Tensor flat = at::zeros({3, 40, 60}, at::kByte);
  flat.select(0, 0).fill_(200);
  flat.select(0, 1).fill_(17);
  const at::Tensor small = resize_bilinear(flat, 13, 21);
  ASSERT_EQ(small.sizes(), (std::vector<int64_t>{3, 13, 21}));
  EXPECT_TRUE(at::equal(small.contiguous(), resize_bilinear(flat, 13, 21).contiguous()));
  EXPECT_EQ(small.select(0, 0).min().item<uint8_t>(), 200);
  EXPECT_EQ(small.select(0, 0).max().item<uint8_t>(), 200);
  EXPECT_EQ(small.select(0, 2).max().item<uint8_t>(), 0);
  // A left-to-right ramp stays non-decreasing along rows, up or down.
  at::Tensor ramp = at::empty({3, 8, 50}, at::kByte);
  for (int64_t x = 0; x < 50; ++x) ramp.select(2, x).fill_(int(x * 5));
  for (int64_t w : {17, 120}) {
    const at::Tensor r = resize_bilinear(ramp, 8, w).contiguous();
    for (int64_t x = 1; x < w; ++x) EXPECT_GE(r[1][4][x].item<uint8_t>(), r[1][4][x - 1].item<uint8_t>());
  }
}

TEST(ImageTransforms, NormalisationValuesAndFlipMirror) {
  at::Tensor img = at::empty({3, 2, 3}, at::kByte);
  const uint8_t values[] = {0, 255, 128, 10, 20, 30};
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 6; ++i) img[c][i / 3][i % 3].fill_(int(values[(i + c) % 6]));
  const Normalization n = Normalization::imagenet();
  at::Tensor out = at::empty({3, 2, 3}, at::kFloat), flipped = at::empty({3, 2, 3}, at::kFloat);
  normalize_into(img, false, n, out);
  normalize_into(img, true, n, flipped);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) {
        const float v = float(img[c][y][x].item<uint8_t>());
        EXPECT_NEAR(out[c][y][x].item<float>(), (v / 255.0f - n.mean[c]) / n.std[c], 1e-6);
      }
  EXPECT_NEAR(out[0][0][0].item<float>(), -0.485f / 0.229f, 1e-6);  // pixel 0
  EXPECT_NEAR(out[0][0][1].item<float>(), (1.0f - 0.485f) / 0.229f, 1e-6);  // pixel 255
  EXPECT_TRUE(at::equal(flipped, at::flip(out, {2})));
  // Into a channels-last batch slot: the same values.
  at::Tensor batch = at::empty({2, 3, 2, 3}, at::TensorOptions(at::kFloat).memory_format(at::MemoryFormat::ChannelsLast));
  at::Tensor slot = batch.select(0, 1);
  normalize_into(img, false, n, slot);
  EXPECT_TRUE(at::equal(batch[1].contiguous(), out));
}

TEST(ImageTransforms, EveryTransformGivesTheSizeAndCifarCropIsAShift) {
  const at::Tensor photo = test_image(375, 500, 3, 6, true).permute({2, 0, 1});
  SampleRng rng(1);
  TransformOptions o;
  o.size = 64;
  for (auto kind : {ImageTransform::RandomResizedCropFlip, ImageTransform::ResizeCenterCrop,
                    ImageTransform::PadRandomCropFlip, ImageTransform::CenterCrop}) {
    o.kind = kind;
    const TransformedImage t = apply_transform(photo, o, rng);
    EXPECT_EQ(t.chw.sizes(), (std::vector<int64_t>{3, 64, 64})) << image_transform_name(kind);
  }
  // Eval: Resize(64 * 256 / 224 = 73) then the centre 64: 73 x 97 resized, crop at (4, 16).
  o.kind = ImageTransform::ResizeCenterCrop;
  const at::Tensor eval = apply_transform(photo, o, rng).chw;
  EXPECT_TRUE(at::equal(eval.contiguous(), resize_bilinear(photo, 73, 97).narrow(1, 4, 64).narrow(2, 16, 64).contiguous()));

  // CIFAR: a 32 x 32 window of the zero-padded image; every draw is the image shifted by at most 4.
  const at::Tensor cifar = test_image(32, 32, 3, 7, false).permute({2, 0, 1});
  o.kind = ImageTransform::PadRandomCropFlip;
  o.size = 32;
  int flips = 0;
  for (int i = 0; i < 40; ++i) {
    const TransformedImage t = apply_transform(cifar, o, rng);
    flips += t.flip;
    bool found = false;
    for (int dy = -4; dy <= 4 && !found; ++dy)
      for (int dx = -4; dx <= 4 && !found; ++dx) found = at::equal(t.chw.contiguous(), crop(cifar, {dy, dx, 32, 32}));
    EXPECT_TRUE(found);
  }
  EXPECT_GT(flips, 5);
  EXPECT_LT(flips, 35);
}

// ---- the loader -----------------------------------------------------------------------------------

struct FolderFixture {
  TempDir dir;
  ImageData data;
  FolderFixture() {
    make_dir(dir / "data");
    write_image_folder(dir / "data/train", {"a", "b", "c"}, 8, 60);
    write_image_folder(dir / "data/val", {"a", "b", "c"}, 2, 70);
    ImageDataOptions o;
    o.image_size = 16;
    data = open_image_data(dir / "data", o);
  }
};

ImageLoaderOptions loader_options(int64_t global_batch, int workers, bool channels_last = false) {
  ImageLoaderOptions o;
  o.global_batch = global_batch;
  o.seed = 5;
  o.num_workers = workers;
  o.prefetch_batches = 3;
  o.channels_last = channels_last;
  return o;
}

TEST(ImageLoaderTest, EpochPlanAndReshuffle) {
  EpochPlan p = plan_epoch(24, 7);
  EXPECT_EQ(p.iterations, 3);
  EXPECT_EQ(p.dropped, 3);
  EXPECT_NE(error_of([] { plan_epoch(5, 8); }).find("larger than the 5 training images"), std::string::npos);

  FolderFixture f;
  ASSERT_EQ(f.data.train->size(), 24);
  ImageLoader loader(f.data, loader_options(8, 2));
  EXPECT_EQ(loader.train_epoch().iterations, 3);
  std::vector<std::vector<int64_t>> epochs(2);
  for (int64_t step = 0; step < 6; ++step) {
    EXPECT_EQ(loader.epoch_of(step), step / 3);
    const auto idx = loader.sample_indices(Split::Train, step, 0, 0, 1, 8);
    epochs[size_t(step / 3)].insert(epochs[size_t(step / 3)].end(), idx.begin(), idx.end());
  }
  for (const auto& e : epochs) EXPECT_EQ(std::set<int64_t>(e.begin(), e.end()).size(), 24u);  // each image once
  EXPECT_NE(epochs[0], epochs[1]);  // reshuffled
}

TEST(ImageLoaderTest, SameBatchesForAnyThreadCountAndWorldSize) {
  FolderFixture f;
  ImageLoader one_thread(f.data, loader_options(8, 1));
  ImageLoader four_threads(f.data, loader_options(8, 4));
  ImageLoader channels_last(f.data, loader_options(8, 2, true));
  for (int64_t step : {0, 1, 4}) {
    // World 1, micro batch 4, 2 accumulation steps: the global batch in order.
    std::vector<at::Tensor> images, labels;
    for (int64_t m = 0; m < 2; ++m) {
      const ImageBatch a = one_thread.batch(Split::Train, step, m, 0, 1, 4);
      const ImageBatch b = four_threads.batch(Split::Train, step, m, 0, 1, 4);
      const ImageBatch c = channels_last.batch(Split::Train, step, m, 0, 1, 4);
      ASSERT_EQ(a.images.sizes(), (std::vector<int64_t>{4, 3, 16, 16}));
      EXPECT_TRUE(at::equal(a.images, b.images));
      EXPECT_TRUE(at::equal(a.labels, b.labels));
      EXPECT_TRUE(c.images.is_contiguous(at::MemoryFormat::ChannelsLast));
      EXPECT_TRUE(at::equal(a.images, c.images.contiguous()));
      images.push_back(a.images);
      labels.push_back(a.labels);
    }
    const at::Tensor world1 = at::cat(images), world1_labels = at::cat(labels);
    // World 2, micro batch 4: rank 0 then rank 1. World 2, micro batch 2: (micro 0: r0, r1), (micro 1: r0, r1).
    std::vector<at::Tensor> w2, w2_labels, w2m2;
    for (int r = 0; r < 2; ++r) {
      const ImageBatch b = four_threads.batch(Split::Train, step, 0, r, 2, 4);
      w2.push_back(b.images);
      w2_labels.push_back(b.labels);
    }
    for (int64_t m = 0; m < 2; ++m)
      for (int r = 0; r < 2; ++r) w2m2.push_back(one_thread.batch(Split::Train, step, m, r, 2, 2).images);
    EXPECT_TRUE(at::equal(at::cat(w2), world1)) << "step " << step;
    EXPECT_TRUE(at::equal(at::cat(w2_labels), world1_labels));
    EXPECT_TRUE(at::equal(at::cat(w2m2), world1));
  }
  // Labels match the images' folders; augmentation really happened (not the plain eval view).
  const auto idx = one_thread.sample_indices(Split::Train, 0, 0, 0, 1, 4);
  const ImageBatch b = one_thread.batch(Split::Train, 0, 0, 0, 1, 4);
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(b.labels[i].item<int64_t>(), f.data.train->label(idx[size_t(i)]));
  EXPECT_NE(error_of([&] { one_thread.batch(Split::Train, 0, 0, 0, 3, 2); }).find("does not divide"), std::string::npos);
  EXPECT_NE(error_of([&] { one_thread.batch(Split::Train, 0, 2, 0, 1, 4); }).find("accumulation"), std::string::npos);
}

TEST(ImageLoaderTest, RefusesBadOptions) {
  FolderFixture f;
  EXPECT_NE(error_of([&] { ImageLoader(f.data, loader_options(25, 1)); }).find("larger than the 24 training images"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ImageLoader(f.data, loader_options(0, 1)); }).find("must be positive"), std::string::npos);
  ImageLoaderOptions pinned = loader_options(8, 1);
  pinned.pin_memory = true;
  if (!at::globalContext().hasCUDA()) {
    EXPECT_NE(error_of([&] { ImageLoader(f.data, pinned); }).find("pin_memory needs LibTorch with CUDA"), std::string::npos);
  }
  // Destroyed with batches queued and being decoded: the threads stop and join.
  ImageLoaderOptions deep = loader_options(8, 2);
  deep.prefetch_batches = 16;
  for (int i = 0; i < 3; ++i) {
    ImageLoader loader(f.data, deep);
    EXPECT_EQ(loader.batch(Split::Train, 0, 0, 0, 1, 2).samples, 2);
  }
}

TEST(ImageLoaderTest, ValidationCoversTheSetOnceWithPadding) {
  FolderFixture f;
  ASSERT_EQ(f.data.val->size(), 6);
  ImageLoader loader(f.data, loader_options(8, 2));
  ASSERT_EQ(loader.eval_iterations(1, 4), 2);
  const ImageBatch first = loader.batch(Split::Val, 0, 0, 0, 1, 4);
  const ImageBatch last = loader.batch(Split::Val, 1, 0, 0, 1, 4);
  EXPECT_EQ(first.samples, 4);
  EXPECT_EQ(last.samples, 2);
  EXPECT_EQ(last.labels[2].item<int64_t>(), kIgnoreLabel);
  EXPECT_EQ(last.labels[3].item<int64_t>(), kIgnoreLabel);
  EXPECT_EQ(last.images[3].abs().max().item<float>(), 0.0f);
  // Sample 5 is Resize(18) + CenterCrop(16) of val image 5, normalised: the same as by hand.
  SampleRng unused(0);
  const TransformedImage t = apply_transform(f.data.val->image(5), f.data.eval_transform, unused);
  at::Tensor expected = at::empty({3, 16, 16}, at::kFloat);
  normalize_into(t.chw, false, f.data.normalization, expected);
  EXPECT_TRUE(at::equal(last.images[1], expected));
  EXPECT_EQ(last.labels[1].item<int64_t>(), 2);
  // World 2 sees the same 6 images: rank 1 of iteration 0 holds images 2 and 3.
  ASSERT_EQ(loader.eval_iterations(2, 2), 2);
  const ImageBatch r1 = loader.batch(Split::Val, 0, 0, 1, 2, 2);
  EXPECT_TRUE(at::equal(r1.images, first.images.narrow(0, 2, 2)));
}

TEST(ImageLoaderTest, CorruptFileSurfacesWithItsName) {
  FolderFixture f;
  write_text(f.dir / "data/train/b/img4.JPG", "garbage, not a JPEG");
  ImageLoader loader(f.data, loader_options(24, 2));  // one global batch: every image
  const std::string e = error_of([&] { loader.batch(Split::Train, 0, 0, 0, 1, 24); });
  EXPECT_NE(e.find("data/train/b/img4.JPG"), std::string::npos) << e;
  // The loader is still usable.
  EXPECT_EQ(loader.batch(Split::Val, 0, 0, 0, 1, 3).samples, 3);
}

TEST(ImageLoaderTest, SyntheticAndCifarDataThroughTheLoader) {
  ImageDataOptions o;
  o.image_size = 8;
  o.num_classes = 5;
  o.synthetic_train_size = 64;
  o.synthetic_val_size = 10;
  const ImageData synthetic = open_image_data("synthetic", o);
  ImageLoader loader(synthetic, loader_options(16, 2));
  const ImageBatch b = loader.batch(Split::Train, 3, 0, 0, 1, 16);
  EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{16, 3, 8, 8}));
  EXPECT_LT(b.labels.max().item<int64_t>(), 5);

  TempDir dir;
  for (int k = 1; k <= 5; ++k) write_text(dir / ("data_batch_" + std::to_string(k) + ".bin"), cifar_records(4, k));
  write_text(dir / "test_batch.bin", cifar_records(4, 0));
  o.image_size = 32;
  const ImageData cifar = open_image_data(dir.path(), o);
  EXPECT_EQ(cifar.kind, "CIFAR-10");
  EXPECT_EQ(cifar.train_transform.kind, ImageTransform::PadRandomCropFlip);
  ImageLoader cifar_loader(cifar, loader_options(10, 2));
  const ImageBatch c = cifar_loader.batch(Split::Train, 0, 0, 0, 1, 10);
  EXPECT_EQ(c.images.sizes(), (std::vector<int64_t>{10, 3, 32, 32}));
  EXPECT_NEAR(cifar_loader.batch(Split::Val, 0, 0, 0, 1, 4).images[0][0][0][0].item<float>(),
              (float(0 & 255) / 255.0f - 0.4914f) / 0.2470f, 1e-5);
}

// ---- top-k ----------------------------------------------------------------------------------------

TEST(TopKAccuracy, CountsTop1Top5AndSkipsPadding) {
  // 3 samples of 6 classes: sample 0 right at top 1; sample 1 right at rank 3; sample 2 at rank 6 (last).
  const at::Tensor logits = at::tensor({0.1f, 0.9f, 0.2f, 0.3f, 0.4f, 0.0f,  //
                                        0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f,  //
                                        0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f}).reshape({3, 6});
  TopKCounts c = count_topk(logits, at::tensor({int64_t(1), int64_t(2), int64_t(0)}));
  EXPECT_EQ(c.top1, 1);
  EXPECT_EQ(c.top5, 2);
  EXPECT_EQ(c.total, 3);
  c += count_topk(logits, at::tensor({int64_t(1), kIgnoreLabel, kIgnoreLabel}));
  EXPECT_EQ(c.top1, 2);
  EXPECT_EQ(c.top5, 3);
  EXPECT_EQ(c.total, 4);
  EXPECT_DOUBLE_EQ(c.top1_accuracy(), 0.5);
  // Fewer than 5 classes: top-5 counts everything.
  const TopKCounts small = count_topk(logits.narrow(1, 0, 3), at::tensor({int64_t(2), int64_t(2), int64_t(0)}));
  EXPECT_EQ(small.top5, 3);
  EXPECT_NE(error_of([&] { count_topk(logits, at::tensor({int64_t(6), int64_t(0), int64_t(0)})); }).find(">= the 6 classes"),
            std::string::npos);
}

}  // namespace

}  // namespace test_image_data
