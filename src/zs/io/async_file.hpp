// Asynchronous file I/O for NVMe offload: files opened with O_DIRECT, reads and writes of host
// buffers at offsets, split into chunks that are in flight together, each request returning a
// handle to wait on. Two engines run the chunks: io_uring (a ring of `queue_depth` entries), or,
// where the kernel or a sandbox forbids io_uring, a small pool of threads doing pread/pwrite.
//
//   auto io = zs::AsyncIo::create({});                  // engine chosen once, shared by files
//   zs::AsyncFile file(io, "/local_nvme/x.swp", zs::AsyncFile::Mode::create);
//   zs::IoHandle h = file.write(buffer, bytes, 0);      // returns at once
//   ...                                                  // buffer must stay untouched until:
//   h.wait();                                            // throws zs::IoError on any failure
//
// O_DIRECT wants buffer address, length and offset aligned to the device block (kIoAlignment covers
// every common device). Aligned chunks go through the O_DIRECT descriptor; an unaligned piece (the
// tail of a length that is not a multiple of kIoAlignment, or an unaligned buffer) goes through a
// second, buffered descriptor of the same file, so any length works and aligned ones are fastest.
// A filesystem that refuses O_DIRECT (tmpfs on older kernels, some network filesystems) gets
// buffered I/O throughout, with a one-time note on stderr.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace zs {

// Any I/O failure: the message names the file, the operation, the offset and the errno text.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Alignment of O_DIRECT transfers (buffer address, length, offset). 4 KiB suits 512-byte and 4K devices.
constexpr std::size_t kIoAlignment = 4096;

inline std::size_t round_up_to_alignment(std::size_t bytes) {
  return (bytes + kIoAlignment - 1) / kIoAlignment * kIoAlignment;
}

enum class IoEngineKind {
  automatic,  // io_uring when it can be set up, else threads; the ZS_IO_ENGINE env var (uring|threads) overrides
  io_uring,   // io_uring or an IoError
  threads,    // pread/pwrite on a thread pool
};

struct AsyncIoOptions {
  IoEngineKind engine = IoEngineKind::automatic;
  int queue_depth = 32;                     // io_uring: chunks in flight at once
  std::size_t chunk_bytes = 4 << 20;        // requests are split into chunks of this size (multiple of kIoAlignment)
  int thread_count = 4;                     // threads engine: chunks in flight at once
  bool direct = true;                       // try O_DIRECT (false: buffered I/O, page cache)
  bool quiet = false;                       // no stderr notes (engine fallback, O_DIRECT refused)
};

namespace detail {
struct IoRequestState;
struct IoFileState;
class IoEngine;
}  // namespace detail

// The waitable result of one read or write. Copyable; all copies refer to the same request.
class IoHandle {
 public:
  IoHandle() = default;  // an empty handle: already complete
  explicit IoHandle(std::shared_ptr<detail::IoRequestState> state) : state_(std::move(state)) {}

  // Blocks until every chunk finished; throws IoError if any failed (every wait() of a failed request does).
  void wait() const;
  // Blocks like wait() but reports the failure as a message ("" when it succeeded) instead of throwing.
  std::string wait_for_error() const;
  bool done() const;
  std::size_t bytes() const;  // bytes the request covers

 private:
  std::shared_ptr<detail::IoRequestState> state_;
};

// The engine running chunks; one per process (or per user) is plenty. Thread-safe.
class AsyncIo {
 public:
  static std::shared_ptr<AsyncIo> create(const AsyncIoOptions& options);
  ~AsyncIo();
  AsyncIo(const AsyncIo&) = delete;
  AsyncIo& operator=(const AsyncIo&) = delete;

  const char* engine_name() const;  // "io_uring" or "threads"
  const AsyncIoOptions& options() const { return options_; }
  detail::IoEngine& engine() { return *engine_; }

 private:
  AsyncIo(const AsyncIoOptions& options, std::unique_ptr<detail::IoEngine> engine);
  AsyncIoOptions options_;
  std::unique_ptr<detail::IoEngine> engine_;
};

class AsyncFile {
 public:
  enum class Mode {
    read,         // existing file, reads only
    read_write,   // existing file
    create,       // created if missing, truncated to 0 bytes
  };

  AsyncFile(std::shared_ptr<AsyncIo> io, const std::string& path, Mode mode);
  ~AsyncFile();  // requests still in flight keep the descriptors open until they finish
  AsyncFile(const AsyncFile&) = delete;
  AsyncFile& operator=(const AsyncFile&) = delete;

  // Reads `bytes` at `offset` into `buffer`. Reading past the end of the file is an error.
  // `on_done` (optional) runs on an I/O thread when the last chunk finished, with "" or the failure,
  // before wait() returns.
  IoHandle read(void* buffer, std::size_t bytes, std::uint64_t offset,
                std::function<void(const std::string& error)> on_done = {});
  // Writes `bytes` from `buffer` at `offset`; a write that cannot complete fully is an error.
  IoHandle write(const void* buffer, std::size_t bytes, std::uint64_t offset,
                 std::function<void(const std::string& error)> on_done = {});

  // Makes the file at least `bytes` long, with its disk blocks reserved where the filesystem can
  // (ENOSPC now rather than in the middle of a write).
  void preallocate(std::uint64_t bytes);
  std::uint64_t size() const;
  const std::string& path() const;
  bool direct() const;  // whether aligned chunks still use O_DIRECT

 private:
  IoHandle submit(bool is_write, void* buffer, std::size_t bytes, std::uint64_t offset,
                  std::function<void(const std::string&)> on_done);
  std::shared_ptr<AsyncIo> io_;
  std::shared_ptr<detail::IoFileState> file_;
};

// Host memory aligned for O_DIRECT (free with std::free). Throws std::bad_alloc when out of memory.
void* allocate_aligned_host(std::size_t bytes);

}  // namespace zs
