// Image loading throughput per thread count, on a folder of JPEGs: how many images/s the CPU can
// decode (stb) and how many the loader delivers as training batches (decode + RandomResizedCrop +
// flip + normalise into a [B, 3, 224, 224] float batch) and as evaluation batches (decode + Resize
// + CenterCrop + normalise). Compare the training figure with what a GPU consumes (ResNet-50 on an
// H200: about 3,500 images/s per GPU with PyTorch DDP, bf16).
//
//   bench_image_loader [--dir DIR] [--images 512] [--width 500 --height 375] [--threads 1,2,4,8,16]
//                      [--batch 64] [--image_size 224] [--seconds 3]
// Without JPEGs in DIR (default /tmp/zs_bench_jpegs), the program writes --images of them there first
// (ImageNet-like size, 8 class folders): a smooth picture with texture and noise, quality 90.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <ATen/ops/empty.h>

#include "bench_threads.hpp"
#include "zs/data/images/file_listing.hpp"
#include "zs/data/images/image_codec.hpp"
#include "zs/data/images/image_data.hpp"
#include "zs/data/images/image_folder.hpp"
#include "zs/data/images/image_loader.hpp"
#include "zs/data/images/sample_rng.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// With no --threads: 1, 2, 4, ... up to the cores, and the cores.
std::vector<int> thread_counts(const std::string& text, int cores) {
  if (!text.empty()) return zs::bench::parse_thread_counts(text);
  std::vector<int> out;
  for (int t = 1; t < cores; t *= 2) out.push_back(t);
  out.push_back(cores);
  return out;
}

// A 500 x 375-like photo stand-in: gradients, soft blobs, fine texture and noise (JPEG sizes near
// ImageNet's ~110 KB average at quality 90).
at::Tensor fake_photo(int64_t h, int64_t w, uint64_t seed) {
  at::Tensor img = at::empty({h, w, 3}, at::kByte);
  uint8_t* p = img.data_ptr<uint8_t>();
  zs::SampleRng rng(seed);
  const double cx = rng.uniform(0, double(w)), cy = rng.uniform(0, double(h)), r = rng.uniform(40, 160);
  const int tint[3] = {int(rng.randint(0, 80)), int(rng.randint(0, 80)), int(rng.randint(0, 80))};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const double d = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (r * r);
      const int blob = d < 1.0 ? int(90 * (1.0 - d)) : 0;
      const int texture = int(((x * 13) ^ (y * 7)) & 31);
      const uint64_t noise = rng.next();
      for (int c = 0; c < 3; ++c) {
        const int v = tint[c] + int(x * 60 / w) + int(y * 40 / h) + blob + texture + int((noise >> (8 * c)) & 31);
        p[(y * w + x) * 3 + c] = uint8_t(std::clamp(v, 0, 255));
      }
    }
  return img;
}

std::vector<std::string> jpeg_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& cls : zs::list_folder(dir)) {
    const std::string sub = zs::path_join(dir, cls);
    if (!zs::is_folder(sub)) continue;
    for (const std::string& f : zs::list_folder(sub))
      if (zs::is_image_file_name(f)) out.push_back(zs::path_join(sub, f));
  }
  return out;
}

void write_folder(const std::string& dir, int images, int64_t w, int64_t h) {
  ::mkdir(dir.c_str(), 0755);
  const int classes = 8;
  for (int k = 0; k < classes; ++k) ::mkdir(zs::path_join(dir, "class_" + std::to_string(k)).c_str(), 0755);
  for (int i = 0; i < images; ++i) {
    const std::string path = zs::path_join(dir, "class_" + std::to_string(i % classes)) + "/img_" +
                             std::to_string(i) + ".jpg";
    zs::write_jpeg_file(path, fake_photo(h, w, uint64_t(i)), 90);
  }
}

// Decoded images/s with `threads` threads, each taking the next file until `seconds` have passed.
double decode_rate(const std::vector<std::string>& files, int threads, double seconds) {
  std::atomic<int64_t> next{0}, done{0};
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      while (!stop) {
        const int64_t i = next++;
        zs::decode_image_file(files[size_t(i % int64_t(files.size()))]);
        ++done;
      }
    });
  while (seconds_since(start) < seconds) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  for (auto& t : pool) t.join();
  return double(done) / seconds_since(start);
}

// Images/s that the loader hands over as batches of `batch`, asked for one after the other.
double loader_rate(const zs::ImageData& data, zs::Split split, int threads, int64_t batch, double seconds) {
  zs::ImageLoaderOptions o;
  o.global_batch = batch;
  o.num_workers = threads;
  o.prefetch_batches = 4;
  zs::ImageLoader loader(data, o);
  const int64_t steps = split == zs::Split::Train ? loader.train_epoch().iterations : loader.eval_iterations(1, batch);
  loader.batch(split, 0, 0, 0, 1, batch);  // warm up: threads started, first batches queued
  const auto start = Clock::now();
  int64_t images = 0;
  for (int64_t s = 1; seconds_since(start) < seconds; ++s) images += loader.batch(split, s % steps, 0, 0, 1, batch).samples;
  return double(images) / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"image decoding and loading throughput per thread count"};
  std::string dir = "/tmp/zs_bench_jpegs", threads_text;
  int images = 512;
  bool synthetic = false;
  int64_t width = 500, height = 375, batch = 64, image_size = 224;
  double seconds = 3.0;
  app.add_flag("--synthetic", synthetic, "train_cnn's synthetic images instead of a JPEG folder");
  app.add_option("--dir", dir, "folder of class folders of JPEGs (written first when it has none)");
  app.add_option("--images", images, "JPEGs to write when the folder is empty")->check(CLI::PositiveNumber);
  app.add_option("--width", width, "width of the written JPEGs")->check(CLI::PositiveNumber);
  app.add_option("--height", height, "height of the written JPEGs")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads_text, "thread counts, comma-separated (default 1, 2, 4, ... up to the cores)");
  app.add_option("--batch", batch, "images per batch")->check(CLI::PositiveNumber);
  app.add_option("--image_size", image_size, "output size of the transforms")->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds, "time per measurement")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    const int cores = zs::bench::affinity_cores();
    const std::vector<int> threads = thread_counts(threads_text, cores);
    if (synthetic) {
      // train_cnn's --data synthetic: generated images of the output size, no decoding.
      zs::ImageDataOptions o;
      o.image_size = image_size;
      const zs::ImageData data = zs::open_image_data("synthetic", o);
      std::printf("%s; %d cores; batch %lld\n", data.description().c_str(), cores, (long long)batch);
      std::printf("%8s %20s %20s\n", "threads", "train batches img/s", "eval batches img/s");
      for (int t : threads)
        std::printf("%8d %20.0f %20.0f\n", t, loader_rate(data, zs::Split::Train, t, batch, seconds),
                    loader_rate(data, zs::Split::Val, t, batch, seconds));
      return 0;
    }
    if (!zs::is_folder(dir) || jpeg_files(dir).empty()) {
      std::printf("writing %d JPEGs of %lldx%lld into %s ...\n", images, (long long)width, (long long)height, dir.c_str());
      const auto t = Clock::now();
      write_folder(dir, images, width, height);
      std::printf("  %.1f s\n", seconds_since(t));
    }
    const std::vector<std::string> files = jpeg_files(dir);
    int64_t bytes = 0;
    for (const auto& f : files) bytes += zs::size_of_file(f);
    const at::Tensor first = zs::decode_image_file(files.front());
    std::printf("%zu JPEGs in %s, %.0f KB on average, first %lldx%lld; %d cores; batch %lld, %lldx%lld output\n",
                files.size(), dir.c_str(), double(bytes) / double(files.size()) / 1024.0, (long long)first.size(1),
                (long long)first.size(0), cores, (long long)batch, (long long)image_size, (long long)image_size);

    // The folder as training and validation data (the same images both ways).
    zs::ImageData data;
    data.kind = "image folder";
    data.train = data.val = zs::ImageFolder::open(dir);
    data.train_transform.kind = zs::ImageTransform::RandomResizedCropFlip;
    data.eval_transform.kind = zs::ImageTransform::ResizeCenterCrop;
    data.train_transform.size = data.eval_transform.size = image_size;
    data.normalization = zs::Normalization::imagenet();
    if (batch > data.train->size()) throw std::invalid_argument("--batch is larger than the folder's images");

    std::printf("%8s %14s %20s %20s\n", "threads", "decode img/s", "train batches img/s", "eval batches img/s");
    for (int t : threads) {
      const double decode = decode_rate(files, t, seconds);
      const double train = loader_rate(data, zs::Split::Train, t, batch, seconds);
      const double eval = loader_rate(data, zs::Split::Val, t, batch, seconds);
      std::printf("%8d %14.0f %20.0f %20.0f\n", t, decode, train, eval);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_image_loader: %s\n", e.what());
    return 1;
  }
  return 0;
}
