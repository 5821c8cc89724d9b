#include "zs/data/images/image_loader.hpp"

#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <c10/core/InferenceMode.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <stdexcept>

#include "zs/data/images/sample_rng.hpp"

namespace zs {

EpochPlan plan_epoch(int64_t samples, int64_t global_batch) {
  if (global_batch <= 0)
    throw std::invalid_argument("the global batch must be positive, got " + std::to_string(global_batch));
  if (global_batch > samples)
    throw std::invalid_argument("the global batch of " + std::to_string(global_batch) + " is larger than the " +
                                std::to_string(samples) + " training images");
  return {samples, global_batch, samples / global_batch, samples % global_batch};
}

// One micro batch being decoded: workers fill its slots; the caller waits for all of them.
struct ImageLoader::Job {
  const ImageDataset* dataset = nullptr;
  const TransformOptions* transform = nullptr;
  std::vector<int64_t> indices;  // dataset index per slot; -1: padding
  std::vector<uint64_t> keys;    // augmentation seed per slot
  at::Tensor images, labels;
  int64_t samples = 0;

  std::mutex mutex;
  std::condition_variable done;
  int64_t remaining = 0;
  std::string error;  // the first failure's message
  std::atomic<bool> skip{false};  // dropped from the window, or failed: the rest of its slots are not decoded
};

ImageLoader::ImageLoader(ImageData data, ImageLoaderOptions options) : data_(std::move(data)), options_(options) {
  if (!data_.train || !data_.val) throw std::invalid_argument("image loader: the data has no train or val set");
  if (data_.val->size() <= 0) throw std::invalid_argument("image loader: the validation set of " + data_.val->source() + " is empty");
  if (data_.train_transform.size <= 0 || data_.train_transform.size != data_.eval_transform.size)
    throw std::invalid_argument("image loader: train and eval transforms must give the same positive size");
  plan_ = plan_epoch(data_.train->size(), options_.global_batch);
  if (options_.prefetch_batches < 0) throw std::invalid_argument("image loader: prefetch_batches must be >= 0");
  if (options_.pin_memory && !at::globalContext().hasCUDA())
    throw std::invalid_argument("image loader: pin_memory needs LibTorch with CUDA and a GPU, and this process has none");
  int n = options_.num_workers;
  if (n <= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    n = ::sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : int(std::thread::hardware_concurrency());
  }
  n = std::max(1, n);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ImageLoader::~ImageLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    tasks_.clear();
  }
  work_ready_.notify_all();
  for (auto& t : workers_) t.join();
}

int64_t ImageLoader::eval_iterations(int world_size, int64_t micro_batch) const {
  const int64_t per_iteration = int64_t(world_size) * micro_batch;
  if (per_iteration <= 0) throw std::invalid_argument("image loader: world size and micro batch must be positive");
  return (data_.val->size() + per_iteration - 1) / per_iteration;
}

void ImageLoader::check_request(Split split, int64_t micro_step, int rank, int world_size, int64_t micro_batch) const {
  if (world_size <= 0 || rank < 0 || rank >= world_size)
    throw std::invalid_argument("image loader: rank " + std::to_string(rank) + " is outside world size " +
                                std::to_string(world_size));
  if (micro_batch <= 0 || micro_step < 0)
    throw std::invalid_argument("image loader: micro_batch must be positive and micro_step non-negative");
  if (split == Split::Train) {
    const int64_t per_micro = micro_batch * world_size;
    if (plan_.global_batch % per_micro != 0)
      throw std::invalid_argument("image loader: micro_batch " + std::to_string(micro_batch) + " x world size " +
                                  std::to_string(world_size) + " does not divide the global batch of " +
                                  std::to_string(plan_.global_batch));
    if (micro_step >= plan_.global_batch / per_micro)
      throw std::invalid_argument("image loader: micro step " + std::to_string(micro_step) + " is past the " +
                                  std::to_string(plan_.global_batch / per_micro) + " accumulation steps of a global batch");
  } else if (micro_step != 0) {
    throw std::invalid_argument("image loader: validation batches have micro_step 0");
  }
}

std::shared_ptr<const std::vector<int64_t>> ImageLoader::epoch_permutation(int64_t epoch) const {
  std::lock_guard<std::mutex> lock(perm_mutex_);
  auto it = permutations_.find(epoch);
  if (it != permutations_.end()) return it->second;
  auto perm = std::make_shared<std::vector<int64_t>>(size_t(plan_.samples));
  std::iota(perm->begin(), perm->end(), int64_t(0));
  SampleRng rng(sample_key({options_.seed, 0xE90C5ull, uint64_t(epoch)}));  // Fisher-Yates
  for (int64_t i = plan_.samples - 1; i > 0; --i) std::swap((*perm)[size_t(i)], (*perm)[size_t(rng.randint(0, i))]);
  if (permutations_.size() >= 3) permutations_.erase(permutations_.begin());  // the oldest epoch
  permutations_[epoch] = perm;
  return perm;
}

std::vector<int64_t> ImageLoader::sample_indices(Split split, int64_t step, int64_t micro_step, int rank,
                                                 int world_size, int64_t micro_batch) const {
  check_request(split, micro_step, rank, world_size, micro_batch);
  if (step < 0) throw std::invalid_argument("image loader: step must be non-negative");
  std::vector<int64_t> out(static_cast<size_t>(micro_batch));
  if (split == Split::Train) {
    const auto perm = epoch_permutation(step / plan_.iterations);
    const int64_t first = (step % plan_.iterations) * plan_.global_batch + (micro_step * world_size + rank) * micro_batch;
    for (int64_t b = 0; b < micro_batch; ++b) out[size_t(b)] = (*perm)[size_t(first + b)];
  } else {
    const int64_t k = step % eval_iterations(world_size, micro_batch);
    const int64_t first = (k * world_size + rank) * micro_batch;
    for (int64_t b = 0; b < micro_batch; ++b) out[size_t(b)] = first + b < data_.val->size() ? first + b : -1;
  }
  return out;
}

std::vector<ImageLoader::Key> ImageLoader::window_after(const Key& key) const {
  auto [split, step, micro, rank, world, mb] = key;
  std::vector<Key> out;
  const int64_t accum = plan_.global_batch / (int64_t(world) * mb);
  const int64_t eval_iters = eval_iterations(world, mb);
  for (int i = 0; i < options_.prefetch_batches; ++i) {
    if (split == int(Split::Train)) {
      if (++micro == accum) micro = 0, ++step;
    } else {
      if (++step >= eval_iters) break;  // evaluation ends there
    }
    out.emplace_back(split, step, micro, rank, world, mb);
  }
  return out;
}

std::shared_ptr<ImageLoader::Job> ImageLoader::start_job(const Key& key) {
  auto [split_i, step, micro, rank, world, mb] = key;
  const Split split = Split(split_i);
  auto job = std::make_shared<Job>();
  job->indices = sample_indices(split, step, micro, rank, world, mb);
  const bool train = split == Split::Train;
  job->dataset = train ? data_.train.get() : data_.val.get();
  job->transform = train ? &data_.train_transform : &data_.eval_transform;
  const uint64_t epoch = train ? uint64_t(step / plan_.iterations) : 0;
  const int64_t S = job->transform->size;
  const auto format = options_.channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  const bool padded = std::count(job->indices.begin(), job->indices.end(), int64_t(-1)) > 0;
  const auto image_options = at::TensorOptions(at::kFloat).memory_format(format).pinned_memory(options_.pin_memory);
  job->images = padded ? at::zeros({mb, 3, S, S}, image_options) : at::empty({mb, 3, S, S}, image_options);
  job->labels = at::full({mb}, kIgnoreLabel, at::TensorOptions(at::kLong).pinned_memory(options_.pin_memory));
  int64_t* labels = job->labels.data_ptr<int64_t>();
  for (int64_t b = 0; b < mb; ++b) {
    const int64_t index = job->indices[size_t(b)];
    job->keys.push_back(sample_key({options_.seed, uint64_t(split_i), epoch, uint64_t(index)}));
    if (index < 0) continue;
    labels[b] = job->dataset->label(index);
    ++job->samples;
  }
  job->remaining = job->samples;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int64_t b = 0; b < mb; ++b)
      if (job->indices[size_t(b)] >= 0) tasks_.push_back({job, b});
  }
  work_ready_.notify_all();
  return job;
}

ImageBatch ImageLoader::batch(Split split, int64_t step, int64_t micro_step, int rank, int world_size,
                              int64_t micro_batch) {
  check_request(split, micro_step, rank, world_size, micro_batch);
  if (step < 0) throw std::invalid_argument("image loader: step must be non-negative");
  if (split == Split::Val) step %= eval_iterations(world_size, micro_batch);
  const Key key{int(split), step, micro_step, rank, world_size, micro_batch};
  std::shared_ptr<Job> job;
  if (auto it = jobs_.find(key); it != jobs_.end()) {
    job = it->second;
    jobs_.erase(it);
  } else {
    job = start_job(key);
  }
  // Keep this split's queued batches that come next; drop the others (their queued slots are skipped).
  const std::vector<Key> window = window_after(key);
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (std::get<0>(it->first) == int(split) && std::find(window.begin(), window.end(), it->first) == window.end()) {
      it->second->skip = true;
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
  for (const Key& next : window)
    if (jobs_.count(next) == 0) jobs_[next] = start_job(next);

  std::unique_lock<std::mutex> lock(job->mutex);
  job->done.wait(lock, [&] { return job->remaining == 0; });
  if (!job->error.empty()) throw std::runtime_error(job->error);
  return {job->images, job->labels, job->samples};
}

void ImageLoader::run_task(const Task& task) {
  Job& job = *task.job;
  const int64_t index = job.indices[size_t(task.slot)];
  if (!job.skip) {
    try {
      SampleRng rng(job.keys[size_t(task.slot)]);
      const TransformedImage t = apply_transform(job.dataset->image(index), *job.transform, rng);
      at::Tensor out = job.images.select(0, task.slot);
      normalize_into(t.chw, t.flip, data_.normalization, out);
    } catch (const std::exception& e) {
      std::string message = e.what();
      const std::string name = job.dataset->sample_name(index);
      if (message.find(name) == std::string::npos) message = "image loader: " + name + ": " + message;
      std::lock_guard<std::mutex> lock(job.mutex);
      if (job.error.empty()) job.error = message;
      job.skip = true;
    }
  }
  std::lock_guard<std::mutex> lock(job.mutex);
  if (--job.remaining == 0) job.done.notify_all();
}

namespace {

// The workers are the parallelism: ATen's OpenMP team inside each of them (a resize, a copy)
// would put cores x workers threads on the cores. OpenMP's thread count is a per-thread setting,
// but ATen's at::set_num_threads also changes the process-wide default (and so the trainer's own
// threads), so this thread sets its own count through the OpenMP runtime LibTorch loaded, after
// ATen's lazy per-thread initialisation (which would reset it). Without OpenMP: nothing to do.
void use_one_aten_thread_here() {
  at::get_num_threads();  // ATen's initialisation of this thread's count happens here, first
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "omp_set_num_threads"))) set(1);
}

}  // namespace

void ImageLoader::worker_loop() {
  use_one_aten_thread_here();
  c10::InferenceMode no_autograd;
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    run_task(task);
  }
}

}  // namespace zs
