// The optimizer state on the device, beside the parameters (no offload, or the device's share of
// offload_optimizer.ratio): the device's optimizer updates it in stream order, in the caller's
// thread. See state_store.hpp.
#pragma once

#include <memory>

#include <c10/core/Device.h>

#include "zs/zero/state/state_store.hpp"

namespace zs {

// fp32 gradient scratch an unfused update may hold at once (elements): 256 MiB, or one slot if
// larger. The memory estimate counts it.
constexpr int64_t kDeviceStepScratchElements = 64 << 20;

class DeviceStateStore final : public StateStore {
 public:
  // `device`: where the parameters live (every attached slot's values must be there).
  // `separate_master`: the masters are fp32 copies (16-bit parameters, or the device's share of a
  // partial offload); otherwise a master is the fp32 parameter itself, updated in place.
  DeviceStateStore(std::unique_ptr<Optimizer> optimizer, c10::Device device, bool separate_master);

  void attach(OwnedSlot& slot, int index, double weight_decay) override;
  Optimizer& optimizer() override { return *optimizer_; }
  void open(const std::vector<OwnedSlot>& slots, const StepScale& scale, bool background,
            const SlotAccess& access) override;
  void submit(std::vector<int> order, int priority) override;
  void copy_masters(const std::vector<OwnedSlot>& slots, const SlotAccess& access) override;
  std::string describe() const override;

 private:
  // bf16/fp16 parameters with fp32 masters and an optimizer that fuses the step on the GPU: one
  // pass per slot reads the 16-bit gradient, updates master and state and writes the 16-bit values.
  bool fused_16bit(const OwnedSlot& slot) const;

  std::unique_ptr<Optimizer> optimizer_;
  c10::Device device_;
  bool separate_master_;
  const std::vector<OwnedSlot>* slots_ = nullptr;  // the open step's
  std::optional<StepScale> scale_;
};

}  // namespace zs
