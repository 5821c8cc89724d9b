// What the host and the NVMe stores share (host_state_store.hpp, nvme_state_store.hpp): the CPU
// updates the state piece by piece while an OffloadTransfer brings the gradients to the host and
// the new values back, within the step or, in the background, on a thread of its own
// (background_update.hpp) while the device goes on. A subclass says how a batch of slots is
// updated; this class runs the step's protocol (state_store.hpp) around it.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <c10/core/Device.h>

#include "zs/optim/host_optimizer.hpp"
#include "zs/zero/state/background_update.hpp"
#include "zs/zero/state/offload_transfer.hpp"
#include "zs/zero/state/state_store.hpp"

namespace zs {

class OffloadedStateStore : public StateStore {
 public:
  // `optimizer` updates the pieces on the CPU; `buffers`: the transfer's ring of staging buffers
  // of `piece_elements` each.
  OffloadedStateStore(std::unique_ptr<HostOptimizer> optimizer, c10::Device device, int buffers,
                      int64_t piece_elements);

  Optimizer& optimizer() override { return *optimizer_; }

  void open(const std::vector<OwnedSlot>& slots, const StepScale& scale, bool background,
            const SlotAccess& access) override;
  void submit(std::vector<int> order, int priority) override;
  void close() override;
  // Rethrows a failure of the update.
  void wait(int slot) override;
  void finish() override;
  bool running() const override { return open_; }
  bool can_run_in_background() const override { return true; }

 protected:
  using Batch = BackgroundUpdate::Batch;
  // Elements [begin, begin + numel) of a slot: what one staging buffer carries.
  struct Piece {
    int slot;
    int64_t begin, numel;
  };
  // Updates the slots of `batch` (in its order, with its gradients) and sends their new values;
  // calls slot_done(s), when given, once slot s's values are on their way. `access` brings shards
  // in files in and out (empty in the background).
  virtual void update(const Batch& batch, const SlotAccess& access, const std::function<void(int)>& slot_done) = 0;

  // Ends a background update without waiting for more than the batch in hand: a subclass's
  // destructor calls it, since the thread runs the subclass's update().
  void stop_background() { thread_.stop(); }

  std::unique_ptr<HostOptimizer> optimizer_;
  c10::Device device_;
  int buffers_;
  int64_t piece_elements_;
  std::unique_ptr<OffloadTransfer> transfer_;
  // The open step: its slots, learning rate and divisor (read to the host once).
  const std::vector<OwnedSlot>* slots_ = nullptr;
  double lr_ = 0, divisor_ = 1;

 private:
  bool open_ = false, background_ = false;
  SlotAccess access_;
  BackgroundUpdate thread_;
};

}  // namespace zs
