// The optimizer state in host memory ("offload_optimizer": {"device": "cpu"}); see state_store.hpp.
//
// The fp32 masters and optimizer state of the attached slots live in host memory (pinned with
// pin_memory on CUDA), and the CPU updates them. The overflow check, the global norm and the
// clipping divisor stay on the device (ZeroOptimizer); the divisor is read to the host once, then
// the slots are worked through in pieces:
//
//   piece k+1: shard gradient device -> host       (in flight, on the copy stream)
//   piece k:   CPU update of master + state, writing the 16-bit values on the way
//   piece k:   updated values host -> device, into the slot's own values
//
// so copies in both directions overlap the CPU update. ZeroOptimizer all-gathers the parameters
// afterwards as without offload.
//
// In the background the update runs on a thread of its own while the device goes on: at stage 3
// the next forward gathers the units one at a time, and a unit's gather waits only for its own
// slots (wait); with super_offload the thread starts before backward and takes each unit's slots
// as soon as backward has reduced their gradients (submit), so the CPU update also overlaps the
// backward; beside a device share (offload_optimizer.ratio) the device updates its slots meanwhile.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <c10/core/Device.h>

#include "zs/config/config.hpp"
#include "zs/optim/host_optimizer.hpp"
#include "zs/zero/state/offload_transfer.hpp"
#include "zs/zero/state/state_store.hpp"

namespace zs {

class HostStateStore final : public StateStore {
 public:
  // `device`: where the parameters and gradients live. The config's buffer_count sets the ring of
  // staging buffers (1: no overlap); pin_memory pins masters and state (CUDA only).
  HostStateStore(std::unique_ptr<HostOptimizer> optimizer, c10::Device device, const OffloadConfig& config);
  ~HostStateStore() override;

  void attach(OwnedSlot& slot, int index, double weight_decay) override;
  Optimizer& optimizer() override { return *optimizer_; }
  void open(const std::vector<OwnedSlot>& slots, const StepScale& scale, bool background,
            const SlotAccess& access) override;
  void submit(std::vector<int> order, int priority) override;
  void close() override;
  // Rethrows a failure of the update.
  void wait(int slot) override;
  void finish() override;
  bool running() const override { return open_ || worker_.joinable(); }
  bool can_run_in_background() const override { return true; }
  void copy_masters(const std::vector<OwnedSlot>& slots, const SlotAccess& access) override;
  SlotStateRange state(const OwnedSlot& slot, int index, int64_t begin, int64_t numel) override;
  // "optimizer state offloaded to cpu (pinned) | fused CPU AdamW, avx2, 8 thread(s) | 4 buffers".
  std::string describe() const override;

 private:
  struct Piece {
    int slot;
    int64_t begin, numel;
  };
  struct Batch {
    std::vector<int> order;
    std::vector<at::Tensor> grads;  // order's gradients, in order
    int priority;
  };

  // Updates the slots of `batch`; calls slot_done(s) after slot s's last piece is sent.
  void update(const Batch& batch, const SlotAccess& access, const std::function<void(int)>& slot_done);
  void work();  // the background thread: takes batches until closed and drained

  std::unique_ptr<HostOptimizer> optimizer_;
  c10::Device device_;
  bool pin_memory_;
  int buffers_;
  int64_t piece_elements_;
  std::unique_ptr<OffloadTransfer> transfer_;
  std::vector<int> number_;  // slot index -> its number in optimizer_ (-1: not attached)

  // The open step: its slots, scale (the divisor read once), and how it runs.
  const std::vector<OwnedSlot>* slots_ = nullptr;
  double lr_ = 0, divisor_ = 1;
  bool open_ = false, background_ = false;
  SlotAccess access_;

  // In the background: the thread, the batches handed over and not yet taken, which slots it has
  // sent, whether more may come, and its failure if any.
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable slot_sent_, batch_queued_;
  std::vector<Batch> queue_;
  std::vector<char> sent_;
  bool closed_ = false, drained_ = false;
  std::exception_ptr error_;
};

}  // namespace zs
