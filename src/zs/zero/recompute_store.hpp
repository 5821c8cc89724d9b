// Selective recomputation under activation checkpointing: what a checkpointed forward keeps for
// its own recomputation in backward. A layer with a costly step whose results backward needs
// (attention: its output and softmax statistics, models/attention.hpp) keeps them the first time
// and takes them back when its forward is recomputed, instead of running the step twice. Every
// checkpoint has a store of its own (zero/activation_checkpoint.cpp); what is never taken is freed
// with the checkpoint. Header-only: models use it without depending on the engine.
#pragma once

#include <deque>
#include <memory>
#include <utility>

namespace zs {

class RecomputeStore {
 public:
  // Keeps `values` for `owner` (the layer: its recompute asks with the same pointer).
  void keep(const void* owner, std::shared_ptr<const void> values) { kept_.emplace_back(owner, std::move(values)); }

  // The oldest values kept, if `owner` kept them; null otherwise (the recompute then computes).
  // The forward and its recompute run the same layers in the same order, so they meet in order.
  template <class T>
  std::shared_ptr<const T> take(const void* owner) {
    if (kept_.empty() || kept_.front().first != owner) return nullptr;
    auto values = std::static_pointer_cast<const T>(std::move(kept_.front().second));
    kept_.pop_front();
    return values;
  }

 private:
  std::deque<std::pair<const void*, std::shared_ptr<const void>>> kept_;
};

// The store of the checkpointed forward running on this thread: its first run (without autograd)
// keeps, its recompute takes; null outside checkpointed forwards.
struct ActiveRecomputeStore {
  RecomputeStore* store = nullptr;
  bool taking = false;
};

inline ActiveRecomputeStore& active_recompute_store() {
  thread_local ActiveRecomputeStore active;
  return active;
}

// Makes `store` the thread's store for the guard's lifetime (nested checkpoints restore the outer).
class RecomputeStoreGuard {
 public:
  RecomputeStoreGuard(RecomputeStore* store, bool taking) : previous_(active_recompute_store()) {
    active_recompute_store() = ActiveRecomputeStore{store, taking};
  }
  ~RecomputeStoreGuard() { active_recompute_store() = previous_; }
  RecomputeStoreGuard(const RecomputeStoreGuard&) = delete;
  RecomputeStoreGuard& operator=(const RecomputeStoreGuard&) = delete;

 private:
  ActiveRecomputeStore previous_;
};

}  // namespace zs
