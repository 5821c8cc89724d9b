// StagingBufferPool: aligned host buffers, pinned when a GPU is present and it is asked for.
#include "zs/io/staging_buffers.hpp"

#include <ATen/Context.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "zs/io/async_file.hpp"

namespace zs {

StagingBufferPool::StagingBufferPool(std::int64_t count, std::size_t bytes_each, bool pin_memory)
    : bytes_each_(round_up_to_alignment(std::max<std::size_t>(bytes_each, 1))) {
  if (count < 1) throw std::invalid_argument("zeroshard io: the staging buffer count must be at least 1");
  const bool can_pin = pin_memory && at::hasCUDA();
  for (std::int64_t i = 0; i < count; ++i) {
    char* buffer = nullptr;
    if (can_pin) {
      // The CUDA host allocator hands out page-aligned blocks; a misaligned one is not used.
      at::Tensor owner = at::empty({static_cast<std::int64_t>(bytes_each_)},
                                   at::TensorOptions().dtype(at::kByte).pinned_memory(true));
      if (reinterpret_cast<std::uintptr_t>(owner.data_ptr()) % kIoAlignment == 0) {
        buffer = static_cast<char*>(owner.data_ptr());
        pinned_owners_.push_back(std::move(owner));
        pinned_ = true;
      }
    }
    if (buffer == nullptr) buffer = static_cast<char*>(allocate_aligned_host(bytes_each_));
    buffers_.push_back(buffer);
    free_.push_back(buffer);
  }
}

StagingBufferPool::~StagingBufferPool() {
  for (char* buffer : buffers_) {
    const bool is_pinned = std::any_of(pinned_owners_.begin(), pinned_owners_.end(),
                                       [&](const at::Tensor& t) { return t.data_ptr() == buffer; });
    if (!is_pinned) std::free(buffer);
  }
}

char* StagingBufferPool::acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  free_cv_.wait(lock, [&] { return !free_.empty(); });
  char* buffer = free_.back();
  free_.pop_back();
  return buffer;
}

void StagingBufferPool::release(char* buffer) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(buffer);
  }
  free_cv_.notify_one();
}

}  // namespace zs
