#include "zs/zero/param_swapper.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <ATen/Context.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>

namespace zs {

ParamSwapper::ParamSwapper(const OffloadConfig& config, int rank, at::ScalarType dtype, int64_t largest_shard,
                           int64_t total_shard_elements, bool pin_memory)
    : dtype_(dtype) {
  TORCH_CHECK(config.device == "nvme", "ParamSwapper: offload_param.device is \"", config.device, "\"");
  TORCH_CHECK(largest_shard <= config.buffer_size, "ParamSwapper: a shard of ", largest_shard,
              " elements exceeds offload_param.buffer_size ", config.buffer_size);
  buffer_elements_ = padded(std::max<int64_t>(largest_shard, 1));

  // A directory of their own: the optimizer's store may use the same nvme_path, and each store
  // clears stale files from its directory when it starts.
  const std::string where = "zero_optimization.offload_param (device \"nvme\"): ";
  parent_ = config.nvme_path + "/zeroshard_param";
  struct stat st {};
  if (::stat(config.nvme_path.c_str(), &st) != 0)
    throw IoError(where + "zeroshard io: nvme_path " + config.nvme_path + " cannot be used: " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) throw IoError(where + "zeroshard io: nvme_path " + config.nvme_path + " is not a directory");
  if (::mkdir(parent_.c_str(), 0755) != 0 && errno != EEXIST)
    throw IoError(where + "cannot create " + parent_ + ": " + std::strerror(errno));

  TensorSwapOptions options;
  options.nvme_path = parent_;
  options.rank = rank;
  options.reserve_bytes = uint64_t(total_shard_elements) * c10::elementSize(dtype) + uint64_t(kIoAlignment) * 64;
  // Buffers are aligned and go straight to the files: the store's staging pool stays minimal.
  options.buffer_count = 1;
  options.buffer_bytes = kIoAlignment;
  try {
    store_ = std::make_unique<TensorSwapStore>(options);
  } catch (const std::exception& e) {
    ::rmdir(parent_.c_str());
    throw IoError(where + e.what());
  }

  const int count = int(std::max<int64_t>(1, config.buffer_count));
  const bool pin = pin_memory && at::hasCUDA();
  for (int i = 0; i < count; ++i) {
    at::Tensor buffer;
    if (pin) {
      // The CUDA host allocator hands out page-aligned blocks; a misaligned one is not used.
      buffer = at::empty({buffer_elements_}, at::TensorOptions().dtype(dtype).pinned_memory(true));
      if (reinterpret_cast<std::uintptr_t>(buffer.data_ptr()) % kIoAlignment != 0) buffer = at::Tensor();
    }
    if (!buffer.defined()) buffer = make_aligned_host_tensor(buffer_elements_, dtype);
    buffers_.push_back(buffer);
  }
  use_.assign(buffers_.size(), Use::free);
  writes_.resize(buffers_.size());
  write_order_.assign(buffers_.size(), 0);
}

ParamSwapper::~ParamSwapper() {
  for (const SwapHandle& w : writes_) (void)w.wait_for_error();
  store_.reset();              // removes the files and the rank's directory
  ::rmdir(parent_.c_str());    // the last rank out removes the parent
}

int64_t ParamSwapper::padded(int64_t numel) const {
  const int64_t block = int64_t(kIoAlignment / c10::elementSize(dtype_));
  return (numel + block - 1) / block * block;
}

int ParamSwapper::acquire(int keep) {
  int available = 0, free_one = -1, oldest_write = -1;
  for (size_t i = 0; i < buffers_.size(); ++i) {
    if (use_[i] == Use::taken) continue;
    ++available;
    if (use_[i] == Use::free && free_one < 0) free_one = int(i);
    if (use_[i] == Use::writing && (oldest_write < 0 || write_order_[i] < write_order_[oldest_write])) oldest_write = int(i);
  }
  if (available <= keep) return -1;
  const int b = free_one >= 0 ? free_one : oldest_write;
  if (use_[b] == Use::writing) {
    const SwapHandle write = writes_[b];
    writes_[b] = SwapHandle();
    use_[b] = Use::free;
    write.wait();  // a failed write of a shard is fatal: its values are gone
  }
  use_[b] = Use::taken;
  return b;
}

void ParamSwapper::release(int buffer) {
  TORCH_CHECK(use_.at(buffer) == Use::taken, "ParamSwapper: buffer ", buffer, " released but not taken");
  use_[buffer] = Use::free;
}

at::Tensor ParamSwapper::view(int buffer, int64_t numel) const {
  TORCH_CHECK(numel <= buffer_elements_, "ParamSwapper: ", numel, " elements exceed the buffers (", buffer_elements_, ")");
  return buffers_.at(buffer).narrow(0, 0, numel);
}

SwapHandle ParamSwapper::read(const std::string& key, int buffer, int64_t numel) {
  TORCH_CHECK(use_.at(buffer) == Use::taken, "ParamSwapper: read into buffer ", buffer, ", which is not taken");
  return store_->swap_in(key, view(buffer, padded(numel)));
}

void ParamSwapper::write_and_release(const std::string& key, int buffer, int64_t numel) {
  TORCH_CHECK(use_.at(buffer) == Use::taken, "ParamSwapper: write from buffer ", buffer, ", which is not taken");
  const int64_t length = padded(numel);
  // The padding after the shard is written too (it is never read as values): zero it so the
  // files hold no stale bytes.
  if (length > numel) view(buffer, length).narrow(0, numel, length - numel).zero_();
  writes_[buffer] = store_->swap_out(key, view(buffer, length));
  write_order_[buffer] = writes_started_++;
  use_[buffer] = Use::writing;
}

void ParamSwapper::flush() {
  for (size_t i = 0; i < buffers_.size(); ++i) {
    if (use_[i] != Use::writing) continue;
    const SwapHandle write = writes_[i];
    writes_[i] = SwapHandle();
    use_[i] = Use::free;
    write.wait();
  }
}

std::string ParamSwapper::describe() const {
  char size[32];
  std::snprintf(size, sizeof(size), "%.2f GB", double(store_->stored_bytes()) / 1e9);
  return "parameter shards offloaded to nvme (" + store_->directory() + ", " + store_->engine_name() + ", " + size +
         " in files) | " + std::to_string(buffers_.size()) + " buffer(s) of " + std::to_string(buffer_elements_) +
         " elements";
}

}  // namespace zs
