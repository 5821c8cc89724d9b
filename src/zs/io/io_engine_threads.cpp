// The thread-pool engine, for kernels or sandboxes without io_uring: each thread takes a chunk
// from a shared queue and runs it to the end with pread/pwrite.
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <thread>

#include "zs/io/io_engine.hpp"

namespace zs::detail {
namespace {

class ThreadEngine final : public IoEngine {
 public:
  explicit ThreadEngine(int thread_count) {
    for (int i = 0; i < thread_count; ++i) workers_.emplace_back([this] { work(); });
  }

  ~ThreadEngine() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;  // workers drain the queue first, then leave
    }
    work_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  const char* name() const override { return "threads"; }

  void submit(std::vector<IoChunk> chunks) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (IoChunk& chunk : chunks) queue_.push_back(std::move(chunk));
    }
    work_cv_.notify_all();
  }

 private:
  void work() {
    for (;;) {
      IoChunk chunk;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        chunk = std::move(queue_.front());
        queue_.pop_front();
      }
      chunk.request->finish_chunk(run(chunk));
    }
  }

  // Transfers the whole chunk; returns "" or the failure.
  static std::string run(IoChunk& chunk) {
    std::string error;
    for (;;) {
      char* address = chunk.buffer + chunk.done;
      const std::size_t length = chunk.length - chunk.done;
      const off_t offset = static_cast<off_t>(chunk.offset + chunk.done);
      bool used_direct = false;
      const int fd = chunk.file->fd_for(address, length, static_cast<std::uint64_t>(offset), &used_direct);
      const ssize_t n = chunk.is_write ? ::pwrite(fd, address, length, offset) : ::pread(fd, address, length, offset);
      const ChunkStep step = advance_chunk(chunk, n < 0 ? -static_cast<long>(errno) : static_cast<long>(n),
                                           used_direct, &error);
      if (step == ChunkStep::finished) return "";
      if (step == ChunkStep::failed) return error;
    }
  }

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::deque<IoChunk> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace

std::unique_ptr<IoEngine> make_thread_engine(int thread_count) {
  return std::make_unique<ThreadEngine>(thread_count);
}

}  // namespace zs::detail
