#pragma once
// ImageLoader: batches of decoded, augmented, normalised images for the CNN trainer, the same
// global batches whatever the world size, decoded by a pool of threads ahead of their use.
//
// How the trainer uses it:
//   ImageDataOptions data_options;  data_options.image_size = 224;
//   ImageData data = open_image_data(flags.data, data_options);                    // image_data.hpp
//   ImageLoaderOptions o;
//   o.global_batch = micro_batch * grad_accum * world_size;  o.seed = seed;  o.channels_last = true;
//   ImageLoader loader(data, o);                              // num_workers 0: one thread per core it may use
//   // training, optimizer step `step`, accumulation step `micro_step`:
//   ImageBatch b = loader.batch(Split::Train, step, micro_step, rank, world_size, micro_batch);
//   //   b.images [micro_batch, 3, S, S] float32 on the CPU (channels-last when asked), b.labels [micro_batch] int64
//   loader.epoch_of(step); loader.train_epoch().iterations;  // epochs: optimizer steps per epoch
//   // evaluation over the whole validation set:
//   for (int64_t k = 0; k < loader.eval_iterations(world_size, micro_batch); ++k)
//     b = loader.batch(Split::Val, k, 0, rank, world_size, micro_batch);
//   //   the last batches are padded to micro_batch with zero images labelled kIgnoreLabel (-100):
//   //   cross_entropy's default ignore_index and count_topk (topk_accuracy.hpp) leave them out.
//
// Order. Training epoch e is a permutation of the training set drawn from (seed, e), a new one every
// epoch. With G = global_batch samples per optimizer step and N training images, an epoch has
// floor(N / G) steps (drop_last: the N mod G images left over are skipped that epoch, a different
// set each epoch); step s is iteration i = s mod that of epoch e = s / that, and takes the
// permutation's positions [i*G, (i+1)*G). Within them, rank r's micro step m takes
// [(m*W + r)*B, + B) for world size W and micro batch B (so W*B must divide G). One rank with 4
// accumulation steps and 4 ranks with 1 therefore see the same global batches. Validation takes
// the set in order: iteration k is positions [k*W*B, (k+1)*W*B), rank r the r-th B of them.
//
// Randomness. Each sample's crop and flip come from (seed, split, epoch, the image's index in the
// dataset): the same whatever the thread count, the world size or the batch it lands in.
//
// Threads. num_workers threads decode and augment sample by sample, writing straight into the
// batch tensors. After each call, the next prefetch_batches micro batches of the same rank and split
// (the following micro steps, then the next step's; the next validation iterations) are queued, so
// they are ready when asked for; a request out of that order is decoded on demand and stale queued
// work is dropped. An error in a worker (a corrupt file) is thrown by batch() in the caller,
// naming the file; the loader stays usable. The destructor stops and joins the threads. Call
// batch() from one thread (the training loop's); the returned tensors are the caller's to keep.
#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "zs/data/images/image_data.hpp"
#include "zs/data/token_data.hpp"  // Split

namespace zs {

inline constexpr int64_t kIgnoreLabel = -100;  // padding samples' label: PyTorch's default ignore_index

struct ImageBatch {
  at::Tensor images;  // [B, 3, S, S] float32, CPU
  at::Tensor labels;  // [B] int64
  int64_t samples = 0;  // real samples (B unless padded at the end of the validation set)
};

struct ImageLoaderOptions {
  int64_t global_batch = 0;   // training samples per optimizer step: micro_batch * grad_accum * world_size
  uint64_t seed = 1337;
  int num_workers = 0;        // decoding threads; 0: the cores this process may run on (its affinity
                              // mask: a launcher that binds ranks to cores gives each its share)
  int prefetch_batches = 4;   // micro batches queued ahead of the one asked for
  bool channels_last = false;  // images in channels-last memory (same shape and values)
  // Batches in page-locked host memory, so images.to(cuda, non_blocking=true) overlaps the copy
  // with compute. Needs LibTorch with CUDA and a GPU; refused otherwise.
  bool pin_memory = false;
};

// An epoch of training: `iterations` optimizer steps of `global_batch` samples; `dropped` samples
// (samples mod global_batch) are left out of it.
struct EpochPlan {
  int64_t samples = 0;
  int64_t global_batch = 0;
  int64_t iterations = 0;
  int64_t dropped = 0;
};
// Throws std::invalid_argument when global_batch is not positive or exceeds samples.
EpochPlan plan_epoch(int64_t samples, int64_t global_batch);

class ImageLoader {
 public:
  // Throws std::invalid_argument for a global batch that is not positive or larger than the
  // training set, or an empty validation set.
  ImageLoader(ImageData data, ImageLoaderOptions options);
  ~ImageLoader();
  ImageLoader(const ImageLoader&) = delete;
  ImageLoader& operator=(const ImageLoader&) = delete;

  // The micro batch of `rank` (see the order above). Train: micro_batch * world_size must divide
  // global_batch and micro_step < global_batch / (micro_batch * world_size). Val: `step` is the
  // evaluation iteration, taken modulo eval_iterations(), and micro_step must be 0.
  ImageBatch batch(Split split, int64_t step, int64_t micro_step, int rank, int world_size, int64_t micro_batch);

  EpochPlan train_epoch() const { return plan_; }
  int64_t epoch_of(int64_t step) const { return step / plan_.iterations; }
  // Validation iterations covering the whole validation set once: ceil(N_val / (world_size * micro_batch)).
  int64_t eval_iterations(int world_size, int64_t micro_batch) const;

  // Dataset indices of the samples batch() returns for these arguments (-1: padding), without
  // decoding anything.
  std::vector<int64_t> sample_indices(Split split, int64_t step, int64_t micro_step, int rank, int world_size,
                                      int64_t micro_batch) const;

  const ImageData& data() const { return data_; }
  int num_workers() const { return int(workers_.size()); }

 private:
  using Key = std::tuple<int, int64_t, int64_t, int, int, int64_t>;  // split, step, micro, rank, world, micro_batch
  struct Job;
  struct Task {
    std::shared_ptr<Job> job;
    int64_t slot;
  };

  void check_request(Split split, int64_t micro_step, int rank, int world_size, int64_t micro_batch) const;
  std::vector<Key> window_after(const Key& key) const;  // the keys to prefetch after `key`
  std::shared_ptr<Job> start_job(const Key& key);
  std::shared_ptr<const std::vector<int64_t>> epoch_permutation(int64_t epoch) const;
  void worker_loop();
  void run_task(const Task& task);

  ImageData data_;
  ImageLoaderOptions options_;
  EpochPlan plan_;

  mutable std::mutex perm_mutex_;
  mutable std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> permutations_;  // a few recent epochs

  std::map<Key, std::shared_ptr<Job>> jobs_;  // queued or finished, not yet asked for (caller's thread only)

  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace zs
