// A fixed pool of host buffers aligned for O_DIRECT, through which tensors whose own memory is not
// aligned travel to and from offload files. Pinned (page-locked through the CUDA host allocator)
// when asked and a GPU is present, so device copies into them are fast too; plain memory otherwise.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include <ATen/core/Tensor.h>

namespace zs {

class StagingBufferPool {
 public:
  // `count` buffers of `bytes_each` bytes (rounded up to kIoAlignment).
  StagingBufferPool(std::int64_t count, std::size_t bytes_each, bool pin_memory);
  ~StagingBufferPool();
  StagingBufferPool(const StagingBufferPool&) = delete;
  StagingBufferPool& operator=(const StagingBufferPool&) = delete;

  // Blocks until a buffer is free. Thread-safe.
  char* acquire();
  void release(char* buffer);

  std::size_t buffer_bytes() const { return bytes_each_; }
  std::int64_t count() const { return static_cast<std::int64_t>(buffers_.size()); }
  bool pinned() const { return pinned_; }

 private:
  std::size_t bytes_each_;
  bool pinned_ = false;
  std::vector<char*> buffers_;
  std::vector<at::Tensor> pinned_owners_;  // keep pinned allocations alive
  std::vector<char*> free_;
  std::mutex mutex_;
  std::condition_variable free_cv_;
};

}  // namespace zs
