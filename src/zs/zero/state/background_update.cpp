#include "zs/zero/state/background_update.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <c10/util/Exception.h>

namespace zs {

BackgroundUpdate::~BackgroundUpdate() { stop(); }

void BackgroundUpdate::stop() {
  if (!worker_.joinable()) return;
  close();
  worker_.join();
}

void BackgroundUpdate::start(int slots, Update update) {
  TORCH_CHECK(!running(), "BackgroundUpdate: started while the previous update still runs");
  sent_.assign(size_t(slots), 0);
  queue_.clear();
  closed_ = drained_ = false;
  error_ = nullptr;
  worker_ = std::thread([this, update = std::move(update)] { work(update); });
}

void BackgroundUpdate::submit(Batch batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  TORCH_CHECK(!closed_, "offload: slots handed to a step that was closed");
  queue_.push_back(std::move(batch));
  batch_queued_.notify_one();
}

void BackgroundUpdate::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  batch_queued_.notify_one();
}

void BackgroundUpdate::work(const Update& update) {
  const auto slot_done = [this](int s) {
    std::lock_guard<std::mutex> lock(mutex_);
    sent_[size_t(s)] = 1;
    slot_sent_.notify_all();
  };
  try {
    while (true) {
      Batch batch;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        batch_queued_.wait(lock, [&] { return !queue_.empty() || closed_; });
        if (queue_.empty()) break;
        auto next = std::min_element(queue_.begin(), queue_.end(),
                                     [](const Batch& a, const Batch& b) { return a.priority < b.priority; });
        batch = std::move(*next);
        queue_.erase(next);
      }
      update(batch, slot_done);
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  drained_ = true;
  slot_sent_.notify_all();
}

void BackgroundUpdate::wait(int slot) {
  if (!running()) return;
  bool failed = false;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    slot_sent_.wait(lock, [&] { return sent_.at(size_t(slot)) || error_ || drained_; });
    if (!error_ && !sent_[size_t(slot)])
      error_ = std::make_exception_ptr(std::runtime_error(
          "offload: optimizer slot " + std::to_string(slot) + " was never handed to the step that just ended"));
    failed = error_ != nullptr;
  }
  if (failed) finish();  // rethrows
}

void BackgroundUpdate::finish() {
  if (!running()) return;
  close();
  worker_.join();
  if (error_) {
    std::exception_ptr error = error_;
    error_ = nullptr;
    std::rethrow_exception(error);
  }
}

}  // namespace zs
