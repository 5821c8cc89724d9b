// The thread a store's update runs on while the caller goes on (host_state_store.hpp,
// nvme_state_store.hpp): slots are handed over in batches, taken lowest priority first; each slot
// is marked once its new values are on their way, and wait(slot) blocks until then. A failure on
// the thread ends it and comes back to the caller from wait() or finish().
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

namespace zs {

class BackgroundUpdate {
 public:
  struct Batch {
    std::vector<int> order;         // slot indices, updated in this order
    std::vector<at::Tensor> grads;  // their gradients, in the same order
    int priority = 0;
  };
  // Runs `update(batch, slot_done)` on the thread for each batch; it calls slot_done(s) once slot
  // s's values are on their way.
  using Update = std::function<void(const Batch& batch, const std::function<void(int)>& slot_done)>;

  ~BackgroundUpdate();

  // Starts the thread for an update of slots numbered [0, slots).
  void start(int slots, Update update);
  void submit(Batch batch);
  void close();  // nothing more comes: the thread ends once the queue is drained
  // Blocks until slot `slot` is marked; rethrows the thread's failure (after joining it), and
  // fails when the thread ended without the slot.
  void wait(int slot);
  // Closes, joins and rethrows the thread's failure. A no-op when no thread runs.
  void finish();
  // Closes and joins, dropping any failure (for destructors).
  void stop();
  bool running() const { return worker_.joinable(); }

 private:
  void work(const Update& update);

  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable slot_sent_, batch_queued_;
  std::vector<Batch> queue_;
  std::vector<char> sent_;
  bool closed_ = false, drained_ = false;
  std::exception_ptr error_;
};

}  // namespace zs
