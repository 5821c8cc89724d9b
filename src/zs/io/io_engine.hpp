// Internals of the async I/O layer shared by its two engines (io_uring and threads): the state of
// one request, of one open file, and one chunk of work. Not for users: include async_file.hpp.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "zs/io/async_file.hpp"

namespace zs::detail {

// One read or write request: finished when its last chunk finished.
struct IoRequestState {
  std::mutex mutex;
  std::condition_variable finished_cv;
  std::int64_t chunks_left = 0;
  bool finished = false;
  std::string error;  // the first chunk failure, "" while none
  std::size_t bytes = 0;
  std::function<void(const std::string&)> on_done;

  // Called once per chunk by the engine, with "" or the chunk's failure.
  void finish_chunk(const std::string& chunk_error);
};

// An open file: an O_DIRECT descriptor (when the filesystem takes it) and a buffered one.
struct IoFileState {
  std::string path;
  int direct_fd = -1;
  int buffered_fd = -1;
  std::atomic<bool> direct_ok{false};
  bool quiet = false;
  ~IoFileState();

  // The descriptor for a transfer: O_DIRECT only when address, length and offset are all aligned.
  int fd_for(const void* address, std::size_t length, std::uint64_t offset, bool* is_direct) const;
  // The filesystem refused an O_DIRECT transfer (EINVAL): all further transfers go buffered.
  void give_up_direct(int err);
};

// One piece of a request, run by an engine. `done` counts bytes already transferred (short
// transfers are continued, never dropped).
struct IoChunk {
  std::shared_ptr<IoRequestState> request;
  std::shared_ptr<IoFileState> file;
  bool is_write = false;
  char* buffer = nullptr;
  std::size_t length = 0;
  std::uint64_t offset = 0;
  std::size_t done = 0;

  // The message for a failure of this chunk with `err` (errno) or, err == 0, for `what`.
  std::string failure(int err, const char* what = nullptr) const;
};

// What to do after a transfer returned `result` (bytes, or -errno) on a descriptor.
enum class ChunkStep { finished, again, failed };
ChunkStep advance_chunk(IoChunk& chunk, long result, bool used_direct, std::string* error);

class IoEngine {
 public:
  virtual ~IoEngine() = default;
  virtual const char* name() const = 0;
  virtual void submit(std::vector<IoChunk> chunks) = 0;
};

// Throws IoError with the reason when io_uring cannot be set up.
std::unique_ptr<IoEngine> make_uring_engine(int queue_depth);
std::unique_ptr<IoEngine> make_thread_engine(int thread_count);

}  // namespace zs::detail
