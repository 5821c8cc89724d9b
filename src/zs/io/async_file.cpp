// AsyncFile, AsyncIo and IoHandle; the request and file state both engines share.
#include "zs/io/async_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>

#include "zs/io/io_engine.hpp"

namespace zs {
namespace detail {

static std::string errno_text(int err) {
  return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

void IoRequestState::finish_chunk(const std::string& chunk_error) {
  std::function<void(const std::string&)> callback;
  std::string final_error;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!chunk_error.empty() && error.empty()) error = chunk_error;
    if (--chunks_left > 0) return;
    callback = std::move(on_done);
    final_error = error;
  }
  // The callback runs before waiters wake, so what it does (a copy out of a staging buffer) is
  // complete when wait() returns.
  if (callback) {
    try {
      callback(final_error);
    } catch (const std::exception& e) {
      if (final_error.empty()) final_error = e.what();
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    error = final_error;
    finished = true;
  }
  finished_cv.notify_all();
}

IoFileState::~IoFileState() {
  if (direct_fd >= 0) ::close(direct_fd);
  if (buffered_fd >= 0) ::close(buffered_fd);
}

int IoFileState::fd_for(const void* address, std::size_t length, std::uint64_t offset, bool* is_direct) const {
  const bool aligned = reinterpret_cast<std::uintptr_t>(address) % kIoAlignment == 0 &&
                       length % kIoAlignment == 0 && offset % kIoAlignment == 0;
  *is_direct = aligned && direct_ok.load(std::memory_order_relaxed);
  return *is_direct ? direct_fd : buffered_fd;
}

static void note_direct_refused(const std::string& path, int err, bool quiet) {
  static std::once_flag once;
  if (quiet) return;
  std::call_once(once, [&] {
    std::cerr << "[zeroshard] note: the filesystem of " << path << " refuses O_DIRECT (" << std::strerror(err)
              << "); offload files there use buffered I/O\n";
  });
}

void IoFileState::give_up_direct(int err) {
  if (direct_ok.exchange(false)) note_direct_refused(path, err, quiet);
}

std::string IoChunk::failure(int err, const char* what) const {
  std::string message = std::string("zeroshard io: ") + (is_write ? "write of " : "read of ") +
                        std::to_string(length - done) + " bytes at offset " + std::to_string(offset + done) +
                        (is_write ? " to " : " from ") + file->path + " failed: ";
  return message + (err != 0 ? errno_text(err) : std::string(what));
}

ChunkStep advance_chunk(IoChunk& chunk, long result, bool used_direct, std::string* error) {
  if (result < 0) {
    const int err = static_cast<int>(-result);
    if (err == EINTR || err == EAGAIN) return ChunkStep::again;
    if (err == EINVAL && used_direct) {  // opened with O_DIRECT, but transfers are refused
      chunk.file->give_up_direct(err);
      return ChunkStep::again;
    }
    *error = chunk.failure(err);
    return ChunkStep::failed;
  }
  if (result == 0 && chunk.done < chunk.length) {
    *error = chunk.failure(0, chunk.is_write ? "the device accepted no more bytes"
                                             : "the file ends before the requested range (read past the end)");
    return ChunkStep::failed;
  }
  chunk.done += static_cast<std::size_t>(result);
  return chunk.done >= chunk.length ? ChunkStep::finished : ChunkStep::again;
}

}  // namespace detail

// ---- IoHandle --------------------------------------------------------------------------------------

std::string IoHandle::wait_for_error() const {
  if (!state_) return "";
  std::unique_lock<std::mutex> lock(state_->mutex);
  state_->finished_cv.wait(lock, [&] { return state_->finished; });
  return state_->error;
}

void IoHandle::wait() const {
  const std::string error = wait_for_error();
  if (!error.empty()) throw IoError(error);
}

bool IoHandle::done() const {
  if (!state_) return true;
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->finished;
}

std::size_t IoHandle::bytes() const { return state_ ? state_->bytes : 0; }

// ---- AsyncIo ---------------------------------------------------------------------------------------

AsyncIo::AsyncIo(const AsyncIoOptions& options, std::unique_ptr<detail::IoEngine> engine)
    : options_(options), engine_(std::move(engine)) {}

AsyncIo::~AsyncIo() = default;

const char* AsyncIo::engine_name() const { return engine_->name(); }

std::shared_ptr<AsyncIo> AsyncIo::create(const AsyncIoOptions& given) {
  AsyncIoOptions options = given;
  // At most 1 GiB: one io_uring transfer is limited to 32-bit lengths.
  if (options.chunk_bytes == 0 || options.chunk_bytes % kIoAlignment != 0 || options.chunk_bytes > (1u << 30))
    throw IoError("zeroshard io: chunk_bytes (" + std::to_string(options.chunk_bytes) +
                  ") must be a positive multiple of " + std::to_string(kIoAlignment) + " of at most 1 GiB");
  if (options.queue_depth < 1 || options.thread_count < 1)
    throw IoError("zeroshard io: queue_depth and thread_count must be at least 1");

  if (options.engine == IoEngineKind::automatic) {
    if (const char* env = std::getenv("ZS_IO_ENGINE")) {
      const std::string value = env;
      if (value == "threads") options.engine = IoEngineKind::threads;
      else if (value == "uring" || value == "io_uring") options.engine = IoEngineKind::io_uring;
      else if (!value.empty() && value != "auto")
        throw IoError("zeroshard io: ZS_IO_ENGINE=" + value + " is not one of auto, uring, threads");
    }
  }

  std::unique_ptr<detail::IoEngine> engine;
  if (options.engine == IoEngineKind::threads) {
    engine = detail::make_thread_engine(options.thread_count);
  } else if (options.engine == IoEngineKind::io_uring) {
    engine = detail::make_uring_engine(options.queue_depth);
  } else {
    try {
      engine = detail::make_uring_engine(options.queue_depth);
    } catch (const IoError& e) {
      if (!options.quiet)
        std::cerr << "[zeroshard] note: " << e.what() << "; NVMe offload I/O uses " << options.thread_count
                  << " pread/pwrite threads instead\n";
      engine = detail::make_thread_engine(options.thread_count);
    }
  }
  return std::shared_ptr<AsyncIo>(new AsyncIo(options, std::move(engine)));
}

// ---- AsyncFile -------------------------------------------------------------------------------------

AsyncFile::AsyncFile(std::shared_ptr<AsyncIo> io, const std::string& path, Mode mode)
    : io_(std::move(io)), file_(std::make_shared<detail::IoFileState>()) {
  file_->path = path;
  file_->quiet = io_->options().quiet;
  int flags = O_CLOEXEC;
  const char* verb = "reading";
  if (mode == Mode::read) {
    flags |= O_RDONLY;
  } else if (mode == Mode::read_write) {
    flags |= O_RDWR;
    verb = "reading and writing";
  } else {
    flags |= O_RDWR | O_CREAT | O_TRUNC;
    verb = "writing";
  }
  file_->buffered_fd = ::open(path.c_str(), flags, 0644);
  if (file_->buffered_fd < 0)
    throw IoError("zeroshard io: cannot open " + path + " for " + verb + ": " + detail::errno_text(errno));
  if (io_->options().direct) {
    // Opened second, without O_CREAT/O_TRUNC: the file exists now and must not be truncated again.
    file_->direct_fd = ::open(path.c_str(), (flags & ~(O_CREAT | O_TRUNC)) | O_DIRECT);
    if (file_->direct_fd >= 0) file_->direct_ok = true;
    else detail::note_direct_refused(path, errno, file_->quiet);
  }
}

AsyncFile::~AsyncFile() = default;

IoHandle AsyncFile::read(void* buffer, std::size_t bytes, std::uint64_t offset,
                         std::function<void(const std::string&)> on_done) {
  return submit(false, buffer, bytes, offset, std::move(on_done));
}

IoHandle AsyncFile::write(const void* buffer, std::size_t bytes, std::uint64_t offset,
                          std::function<void(const std::string&)> on_done) {
  return submit(true, const_cast<void*>(buffer), bytes, offset, std::move(on_done));
}

IoHandle AsyncFile::submit(bool is_write, void* buffer, std::size_t bytes, std::uint64_t offset,
                           std::function<void(const std::string&)> on_done) {
  auto request = std::make_shared<detail::IoRequestState>();
  request->bytes = bytes;
  request->on_done = std::move(on_done);

  // Chunks of chunk_bytes; an unaligned tail becomes a chunk of its own (the buffered descriptor's).
  std::vector<detail::IoChunk> chunks;
  const std::size_t chunk_bytes = io_->options().chunk_bytes;
  const std::size_t aligned_end = bytes / kIoAlignment * kIoAlignment;
  for (std::size_t start = 0; start < bytes;) {
    std::size_t end = std::min(start + chunk_bytes, bytes);
    if (end > aligned_end && start < aligned_end) end = aligned_end;
    detail::IoChunk chunk;
    chunk.request = request;
    chunk.file = file_;
    chunk.is_write = is_write;
    chunk.buffer = static_cast<char*>(buffer) + start;
    chunk.length = end - start;
    chunk.offset = offset + start;
    chunks.push_back(std::move(chunk));
    start = end;
  }
  if (chunks.empty()) {  // nothing to transfer: finished now
    request->chunks_left = 1;
    request->finish_chunk("");
    return IoHandle(request);
  }
  request->chunks_left = static_cast<std::int64_t>(chunks.size());
  io_->engine().submit(std::move(chunks));
  return IoHandle(request);
}

void AsyncFile::preallocate(std::uint64_t bytes) {
  if (bytes == 0) return;
  const int err = ::posix_fallocate(file_->buffered_fd, 0, static_cast<off_t>(bytes));
  if (err != 0 && err != EOPNOTSUPP && err != EINVAL)
    throw IoError("zeroshard io: cannot reserve " + std::to_string(bytes) + " bytes for " + file_->path + ": " +
                  detail::errno_text(err));
  // Without fallocate the file is at least extended, so reads of the whole range stay valid.
  if (err != 0 && size() < bytes && ::ftruncate(file_->buffered_fd, static_cast<off_t>(bytes)) != 0)
    throw IoError("zeroshard io: cannot extend " + file_->path + " to " + std::to_string(bytes) + " bytes: " +
                  detail::errno_text(errno));
}

std::uint64_t AsyncFile::size() const {
  struct stat st {};
  if (::fstat(file_->buffered_fd, &st) != 0)
    throw IoError("zeroshard io: cannot stat " + file_->path + ": " + detail::errno_text(errno));
  return static_cast<std::uint64_t>(st.st_size);
}

const std::string& AsyncFile::path() const { return file_->path; }

bool AsyncFile::direct() const { return file_->direct_ok.load(); }

void* allocate_aligned_host(std::size_t bytes) {
  void* p = nullptr;
  if (::posix_memalign(&p, kIoAlignment, std::max<std::size_t>(round_up_to_alignment(bytes), kIoAlignment)) != 0)
    throw std::bad_alloc();
  return p;
}

}  // namespace zs
