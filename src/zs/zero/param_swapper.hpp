// Stage-3 parameter shards on NVMe ("offload_param": {"device": "nvme", "nvme_path": ...}).
//
// Every unit's 16-bit shard lives in a file of its own under
// <nvme_path>/zeroshard_param/zeroshard_rank<r>/ (io/tensor_swap.hpp), not in host memory. Host
// memory holds only a pool of buffer_count buffers, each large enough for the largest unit shard
// (at most buffer_size elements). A buffer is taken for one use and given back after it:
//
//   gather:         read the shard from its file into a buffer, copy to the device, all-gather,
//                   give the buffer back (sharded_unit.cpp)
//   optimizer step: the updated values are written into a buffer, piece by piece, then the buffer
//                   goes to the file; it is free again once that write has landed
//
// Operations on one file run in order, so a gather that follows a step reads the new values.
// Which buffers are free depends only on what the program did (never on I/O timing): every rank
// takes the same decisions, so collectives that follow from them stay matched across ranks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/config/config.hpp"
#include "zs/io/tensor_swap.hpp"

namespace zs {

class ParamSwapper {
 public:
  // `largest_shard`: elements of the largest unit shard (must be <= config.buffer_size);
  // `total_shard_elements`: of all shards, checked against the free space of nvme_path.
  // `pin_memory`: page-locked buffers (CUDA only).
  ParamSwapper(const OffloadConfig& config, int rank, at::ScalarType dtype, int64_t largest_shard,
               int64_t total_shard_elements, bool pin_memory);
  ~ParamSwapper();  // waits for every write, removes the files and the directories
  ParamSwapper(const ParamSwapper&) = delete;
  ParamSwapper& operator=(const ParamSwapper&) = delete;

  // A buffer for one use, or -1 when no more than `keep` buffers are left to take (a prefetch
  // keeps one for the gather that cannot wait). A buffer whose write is still in flight counts as
  // available: taking it waits for that write (the oldest first).
  int acquire(int keep = 0);
  // Gives a buffer back at once (nothing of it is in flight).
  void release(int buffer);
  // The buffer's memory: its first `numel` elements (dtype of the shards).
  at::Tensor view(int buffer, int64_t numel) const;

  // Reads `key`'s file into the buffer (asynchronous; the buffer stays taken).
  SwapHandle read(const std::string& key, int buffer, int64_t numel);
  // Writes the buffer's first `numel` elements to `key`'s file and gives the buffer back; it is
  // handed out again only once the write has landed.
  void write_and_release(const std::string& key, int buffer, int64_t numel);
  // Waits for every write.
  void flush();

  int64_t buffer_elements() const { return buffer_elements_; }
  int buffer_count() const { return int(buffers_.size()); }
  // "parameter shards offloaded to nvme (/nvme/zeroshard_param/zeroshard_rank0, io_uring, 0.12 GB
  // in files) | 5 buffer(s) of 1234 elements"
  std::string describe() const;

 private:
  // File length of a shard: padded to whole O_DIRECT blocks, so every transfer goes direct.
  int64_t padded(int64_t numel) const;

  at::ScalarType dtype_;
  int64_t buffer_elements_ = 0;
  std::string parent_;  // <nvme_path>/zeroshard_param, removed at the end when empty
  std::unique_ptr<TensorSwapStore> store_;
  std::vector<at::Tensor> buffers_;
  enum class Use { free, taken, writing };
  std::vector<Use> use_;
  std::vector<SwapHandle> writes_;
  std::vector<int64_t> write_order_;  // per buffer: when its write started (oldest is reused first)
  int64_t writes_started_ = 0;
};

}  // namespace zs
