#include "zs/zero/state/device_state_store.hpp"

#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

namespace zs {

DeviceStateStore::DeviceStateStore(std::unique_ptr<Optimizer> optimizer, c10::Device device, bool separate_master)
    : optimizer_(std::move(optimizer)), device_(device), separate_master_(separate_master) {}

void DeviceStateStore::attach(OwnedSlot& slot, int index, double weight_decay) {
  c10::NoGradGuard no_grad;
  TORCH_CHECK(slot.own.device() == device_, "DeviceStateStore: slot ", index, " (", slot.group->name(),
              ") has its values on ", slot.own.device(), ", not on ", device_);
  slot.master = separate_master_ ? slot.own.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true) : slot.own;
  remember(index, optimizer_->add_param(slot.master, weight_decay));
}

void DeviceStateStore::open(const std::vector<OwnedSlot>& slots, const StepScale& scale, bool background,
                            const SlotAccess& access) {
  TORCH_CHECK(access.empty(), "DeviceStateStore: the device's slots have no shards in files");
  slots_ = &slots;
  scale_ = scale;
}

bool DeviceStateStore::fused_16bit(const OwnedSlot& slot) const {
  const at::ScalarType dtype = slot.own.scalar_type();
  return separate_master_ && (dtype == at::kBFloat16 || dtype == at::kHalf) && optimizer_->has_fused_16bit_step();
}

void DeviceStateStore::submit(std::vector<int> order, int priority) {
  TORCH_CHECK(slots_ && scale_, "DeviceStateStore: submit() outside a step");
  if (order.empty()) return;
  const std::vector<OwnedSlot>& slots = *slots_;
  std::vector<int> numbers;
  for (int i : order) numbers.push_back(number(i));
  if (fused_16bit(slots[size_t(order.front())])) {
    // The gradients as they are, no fp32 scratch; the 16-bit values are written by the same pass
    // (not for units that gather from their masters: their 16-bit shards are gone).
    std::vector<at::Tensor> grads, params;
    for (int i : order) {
      const OwnedSlot& slot = slots[size_t(i)];
      grads.push_back(slot.grad());
      params.push_back(slot.group->gathers_from_masters() ? at::Tensor() : slot.own);
    }
    optimizer_->step_slots_16bit(numbers, grads, params, scale_->lr(), scale_->divisor());
    return;
  }
  // 16-bit gradients become fp32 a few slots at a time, so the scratch stays bounded instead of
  // doubling the gradient memory.
  std::vector<int> batch;
  std::vector<at::Tensor> grads;
  int64_t scratch = 0;
  auto flush = [&]() {
    if (!batch.empty()) optimizer_->step_slots(batch, grads, scale_->lr(), scale_->divisor());
    batch.clear();
    grads.clear();
    scratch = 0;
  };
  for (size_t k = 0; k < order.size(); ++k) {
    at::Tensor g = slots[size_t(order[k])].grad();
    if (g.scalar_type() != at::kFloat) {
      g = g.to(at::kFloat);
      scratch += g.numel();
    }
    batch.push_back(numbers[k]);
    grads.push_back(g);
    if (scratch >= kDeviceStepScratchElements) flush();
  }
  flush();
  if (!separate_master_) return;
  for (int i : order) {
    const OwnedSlot& slot = slots[size_t(i)];
    if (!slot.group->gathers_from_masters()) slot.own.copy_(slot.master.view_as(slot.own));
  }
}

void DeviceStateStore::copy_masters(const std::vector<OwnedSlot>& slots, const SlotAccess& access) {
  if (separate_master_) copy_masters_in_memory(slots, access);  // else the masters are the parameters
}

std::string DeviceStateStore::describe() const { return "optimizer state on the device (" + optimizer_->name() + ")"; }

}  // namespace zs
