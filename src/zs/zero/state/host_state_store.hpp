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
// In the background (offloaded_state_store.hpp) the update runs on a thread of its own while the
// device goes on: at stage 3 the next forward gathers the units one at a time, and a unit's gather
// waits only for its own slots; with super_offload the thread starts before backward and takes
// each unit's slots as soon as backward has reduced their gradients, so the CPU update also
// overlaps the backward; beside a device share (offload_optimizer.ratio) the device updates its
// slots meanwhile.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "zs/config/config.hpp"
#include "zs/zero/state/offloaded_state_store.hpp"

namespace zs {

class HostStateStore final : public OffloadedStateStore {
 public:
  // `device`: where the parameters and gradients live. The config's buffer_count sets the ring of
  // staging buffers (1: no overlap); pin_memory pins masters and state (CUDA only).
  HostStateStore(std::unique_ptr<HostOptimizer> optimizer, c10::Device device, const OffloadConfig& config);
  ~HostStateStore() override { stop_background(); }

  void attach(OwnedSlot& slot, int index, double weight_decay) override;
  void copy_masters(const std::vector<OwnedSlot>& slots, const SlotAccess& access) override;
  // "optimizer state offloaded to cpu (pinned) | fused CPU AdamW, avx2, 8 thread(s) | 4 buffers".
  std::string describe() const override;

 private:
  void update(const Batch& batch, const SlotAccess& access, const std::function<void(int)>& slot_done) override;

  bool pin_memory_;
};

}  // namespace zs
