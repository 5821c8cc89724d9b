// TensorSwapStore: named flat tensors kept in files under <nvme_path>/zeroshard_rank<r>/, moved out
// of and back into host memory asynchronously. NVMe offload of optimizer state and stage-3 parameter
// shards is built on it.
//
//   zs::TensorSwapOptions o;  o.nvme_path = "/local_nvme";  o.rank = rank;  o.reserve_bytes = total;
//   zs::TensorSwapStore store(o);
//   auto out = store.swap_out("exp_avg.3", exp_avg);      // the tensor may be reused once this returns
//   ...                                                    // unless it is aligned (see below)
//   store.swap_in("exp_avg.3", exp_avg).wait();            // throws zs::IoError on failure
//
// A tensor whose memory is aligned to kIoAlignment (make_aligned_host_tensor) goes straight to the
// file; any other travels through the store's staging buffers (buffer_count of buffer_bytes). With
// an aligned tensor the I/O reads or writes the tensor itself, so it must stay untouched until the
// handle is waited for; a staged swap_out has copied the tensor when it returns.
// Operations on one key run in order (each waits for the key's previous one to finish).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/io/async_file.hpp"

namespace zs {

class StagingBufferPool;

struct TensorSwapOptions {
  std::string nvme_path;           // must exist; the store lives in <nvme_path>/zeroshard_rank<rank>/
  int rank = 0;
  std::int64_t buffer_count = 4;   // staging buffers (offload_*.buffer_count)
  std::size_t buffer_bytes = 64 << 20;  // bytes per staging buffer (offload_*.buffer_size x element size)
  bool pin_memory = false;         // pinned staging buffers when a GPU is present (offload_*.pin_memory)
  std::uint64_t reserve_bytes = 0; // bytes this store will hold: checked against the free space at creation
  AsyncIoOptions io;
};

// The waitable result of swap_out / swap_in.
class SwapHandle {
 public:
  SwapHandle() = default;
  void wait() const;  // throws IoError with the first failure
  std::string wait_for_error() const;
  bool done() const;

 private:
  friend class TensorSwapStore;
  std::vector<IoHandle> parts_;
  at::Tensor keep_alive_;  // an aligned tensor read or written in place
};

class TensorSwapStore {
 public:
  explicit TensorSwapStore(const TensorSwapOptions& options);
  ~TensorSwapStore();  // waits for every operation, then removes its files and its directory
  TensorSwapStore(const TensorSwapStore&) = delete;
  TensorSwapStore& operator=(const TensorSwapStore&) = delete;

  // Writes a contiguous CPU tensor to the key's file (created, or replaced when the size changed).
  SwapHandle swap_out(const std::string& key, const at::Tensor& tensor);
  // Reads the key's tensor into `into` (contiguous CPU, same dtype and number of elements).
  SwapHandle swap_in(const std::string& key, const at::Tensor& into);

  bool contains(const std::string& key) const;
  void remove(const std::string& key);  // waits for the key's last operation, deletes its file
  void wait_all();                      // waits for every key's last operation (failures are not thrown)
  std::uint64_t stored_bytes() const;   // bytes of all files (padded to kIoAlignment)

  const std::string& directory() const { return directory_; }
  const char* engine_name() const { return io_->engine_name(); }
  const StagingBufferPool& staging() const { return *staging_; }

 private:
  struct Entry {
    std::string path;
    std::unique_ptr<AsyncFile> file;
    std::int64_t nbytes = 0;
    at::ScalarType dtype = at::kFloat;
    SwapHandle last;  // the key's most recent operation
  };
  void check_and_start();  // free space, engine, staging buffers, a probe write and read
  Entry& entry_for_write(const std::string& key, const at::Tensor& tensor);
  SwapHandle transfer(Entry& entry, const at::Tensor& tensor, bool is_write);

  TensorSwapOptions options_;
  std::string directory_;
  std::shared_ptr<AsyncIo> io_;
  std::unique_ptr<StagingBufferPool> staging_;
  mutable std::mutex mutex_;  // guards entries_ and next_file_id_
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  std::int64_t next_file_id_ = 0;
};

// A CPU tensor of `numel` elements whose memory is aligned for O_DIRECT: swapped without staging.
at::Tensor make_aligned_host_tensor(std::int64_t numel, at::ScalarType dtype);

}  // namespace zs
