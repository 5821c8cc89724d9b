// The io_uring engine: callers put chunks on the submission queue (up to queue_depth in flight,
// the rest wait in a list), one reaper thread takes completions, continues short transfers and
// finishes requests. The submission side is guarded by a mutex; only the reaper touches the
// completion side, which liburing allows without further locking.
#include <liburing.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <thread>

#include "zs/io/io_engine.hpp"

namespace zs::detail {
namespace {

struct UringOp {
  IoChunk chunk;
  bool used_direct = false;
};

class UringEngine final : public IoEngine {
 public:
  explicit UringEngine(int queue_depth) : queue_depth_(queue_depth) {
    // One entry more than the depth: room for the wake-up at shutdown.
    const int err = io_uring_queue_init(static_cast<unsigned>(queue_depth + 1), &ring_, 0);
    if (err < 0)
      throw IoError(std::string("io_uring is not available (io_uring_queue_init: ") + std::strerror(-err) + ")");
    reaper_ = std::thread([this] { reap(); });
  }

  ~UringEngine() override {
    {
      std::lock_guard<std::mutex> lock(submit_mutex_);
      stopping_ = true;
      // A no-op with no op attached: wakes the reaper, which leaves once nothing is in flight or waiting.
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data(sqe, nullptr);
      ++in_flight_;
      io_uring_submit(&ring_);
    }
    reaper_.join();
    io_uring_queue_exit(&ring_);
  }

  const char* name() const override { return "io_uring"; }

  void submit(std::vector<IoChunk> chunks) override {
    std::lock_guard<std::mutex> lock(submit_mutex_);
    for (IoChunk& chunk : chunks) waiting_.push_back(new UringOp{std::move(chunk)});
    fill_queue_locked();
  }

 private:
  // Moves waiting ops onto the submission queue while fewer than queue_depth are in flight.
  void fill_queue_locked() {
    bool added = false;
    while (in_flight_ < queue_depth_ && !waiting_.empty()) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) break;
      UringOp* op = waiting_.front();
      waiting_.pop_front();
      IoChunk& c = op->chunk;
      char* address = c.buffer + c.done;
      const std::size_t length = c.length - c.done;
      const std::uint64_t offset = c.offset + c.done;
      const int fd = c.file->fd_for(address, length, offset, &op->used_direct);
      if (c.is_write) io_uring_prep_write(sqe, fd, address, static_cast<unsigned>(length), offset);
      else io_uring_prep_read(sqe, fd, address, static_cast<unsigned>(length), offset);
      io_uring_sqe_set_data(sqe, op);
      ++in_flight_;
      added = true;
    }
    if (added) {
      int err;
      do err = io_uring_submit(&ring_); while (err == -EINTR || err == -EAGAIN);
      // A failed submit leaves the entries queued; the next submit (or the reaper's) retries them.
    }
  }

  void reap() {
    for (;;) {
      io_uring_cqe* cqe = nullptr;
      const int err = io_uring_wait_cqe(&ring_, &cqe);
      if (err == -EINTR || err == -EAGAIN) continue;
      if (err < 0) {  // the ring itself broke: fail everything that waits rather than hang
        fail_all(std::string("io_uring_wait_cqe: ") + std::strerror(-err));
        return;
      }
      auto* op = static_cast<UringOp*>(io_uring_cqe_get_data(cqe));
      const long result = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);

      std::string error;
      {
        // The op is read under the submitters' mutex: the kernel handing it over is invisible to
        // the C++ memory model (and to thread sanitizers).
        std::lock_guard<std::mutex> lock(submit_mutex_);
        ChunkStep step = ChunkStep::finished;
        if (op != nullptr) step = advance_chunk(op->chunk, result, op->used_direct, &error);
        --in_flight_;
        if (op != nullptr && step == ChunkStep::again) {
          waiting_.push_front(op);  // the rest of a short transfer goes next
          op = nullptr;
        }
        fill_queue_locked();
        if (stopping_ && in_flight_ == 0 && waiting_.empty() && op == nullptr) return;
      }
      if (op != nullptr) {
        op->chunk.request->finish_chunk(error);
        delete op;
      }
      std::lock_guard<std::mutex> lock(submit_mutex_);
      if (stopping_ && in_flight_ == 0 && waiting_.empty()) return;
    }
  }

  void fail_all(const std::string& why) {
    std::deque<UringOp*> ops;
    {
      std::lock_guard<std::mutex> lock(submit_mutex_);
      ops.swap(waiting_);
    }
    for (UringOp* op : ops) {
      op->chunk.request->finish_chunk(op->chunk.failure(0, why.c_str()));
      delete op;
    }
  }

  const int queue_depth_;
  io_uring ring_{};
  std::mutex submit_mutex_;
  std::deque<UringOp*> waiting_;
  int in_flight_ = 0;
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace

std::unique_ptr<IoEngine> make_uring_engine(int queue_depth) {
  return std::make_unique<UringEngine>(queue_depth);
}

}  // namespace zs::detail
