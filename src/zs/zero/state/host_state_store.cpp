#include "zs/zero/state/host_state_store.hpp"

#include <algorithm>
#include <string>

#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

#include "zs/io/host_memory.hpp"
#include "zs/zero/state/gradient_ring.hpp"

namespace zs {

HostStateStore::HostStateStore(std::unique_ptr<HostOptimizer> optimizer, c10::Device device,
                               const OffloadConfig& config)
    : OffloadedStateStore(std::move(optimizer), device, int(std::max<int64_t>(1, config.buffer_count)),
                          offload_piece_elements()),
      // Only a CUDA build can pin; a CPU "device" needs no page-locked memory anyway.
      pin_memory_(config.pin_memory && device.is_cuda()) {}

void HostStateStore::attach(OwnedSlot& slot, int index, double weight_decay) {
  c10::NoGradGuard no_grad;
  slot.master = empty_host(slot.own.numel(), at::kFloat, pin_memory_);
  slot.master.copy_(slot.own.reshape({slot.own.numel()}));
  remember(index, optimizer_->add_param(slot.master, weight_decay));
}

void HostStateStore::update(const Batch& batch, const SlotAccess& access, const std::function<void(int)>& slot_done) {
  const std::vector<OwnedSlot>& slots = *slots_;
  std::vector<Piece> pieces;
  std::vector<int> piece_slots;
  std::vector<size_t> piece_grads;  // piece -> its slot's position in the batch
  for (size_t j = 0; j < batch.order.size(); ++j) {
    const int i = batch.order[j];
    const int64_t numel = slots[size_t(i)].master.numel();
    if (numel == 0 && slot_done) slot_done(i);  // nothing to update: ready now
    for (int64_t b = 0; b < numel; b += piece_elements_) {
      pieces.push_back({i, b, std::min(piece_elements_, numel - b)});
      piece_slots.push_back(i);
      piece_grads.push_back(j);
    }
  }
  const size_t n = pieces.size();
  GradientRing ring(*transfer_, buffers_, n, [&](size_t k) {
    const Piece& p = pieces[k];
    return batch.grads[piece_grads[k]].narrow(0, p.begin, p.numel);
  });
  for (size_t k = 0; k < n; ++k) {
    const at::Tensor& grad = ring.take(k);
    const int b = int(k % buffers_);
    const Piece& p = pieces[k];
    const OwnedSlot& slot = slots[size_t(p.slot)];
    const int number = this->number(p.slot);
    access.before(piece_slots, k);
    const at::Tensor dst = slot.own.narrow(0, p.begin, p.numel);
    if (dst.scalar_type() == at::kFloat) {
      // fp32 parameters: the master itself goes back.
      optimizer_->step_range(number, p.begin, grad, lr_, divisor_, at::Tensor());
      transfer_->send(b, slot.master.narrow(0, p.begin, p.numel), dst);
    } else {
      // 16-bit parameters: the update writes them on the way, into a buffer bound for the device.
      const at::Tensor out = transfer_->param_buffer(b, dst);
      optimizer_->step_range(number, p.begin, grad, lr_, divisor_, out);
      transfer_->send(b, out, dst);
    }
    access.after(piece_slots, k);
    ring.release(k);
    if (slot_done && (k + 1 == n || piece_slots[k + 1] != p.slot)) slot_done(p.slot);
  }
}

void HostStateStore::copy_masters(const std::vector<OwnedSlot>& slots, const SlotAccess& access) {
  copy_masters_in_memory(slots, access);
}

std::string HostStateStore::describe() const {
  std::string where = "optimizer state offloaded to cpu (";
  where += pin_memory_ ? "pinned" : "not pinned";
  where += ") | " + optimizer_->describe() + " | " + std::to_string(buffers_) + " staging buffer(s) of " +
           std::to_string(piece_elements_) + " elements";
  return where;
}

}  // namespace zs
