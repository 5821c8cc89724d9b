#include "zs/zero/state/offloaded_state_store.hpp"

#include <c10/util/Exception.h>

namespace zs {

OffloadedStateStore::OffloadedStateStore(std::unique_ptr<HostOptimizer> optimizer, c10::Device device, int buffers,
                                         int64_t piece_elements)
    : optimizer_(std::move(optimizer)),
      device_(device),
      buffers_(buffers),
      piece_elements_(piece_elements),
      transfer_(make_offload_transfer(device, buffers, piece_elements)) {}

void OffloadedStateStore::open(const std::vector<OwnedSlot>& slots, const StepScale& scale, bool background,
                               const SlotAccess& access) {
  TORCH_CHECK(!running(), "offload: a step started while the previous one is still updating");
  TORCH_CHECK(!background || access.empty(), "offload: shards in files are updated within the step, not beside it");
  slots_ = &slots;
  lr_ = scale.lr();
  divisor_ = scale.host_divisor();
  background_ = background;
  access_ = access;
  open_ = true;
  transfer_->begin();  // on the caller's stream: after the gradients and the previous step's sends
  if (!background_) return;
  transfer_->prepare_slots(int(slots.size()));
  thread_.start(int(slots.size()), [this](const Batch& batch, const std::function<void(int)>& slot_done) {
    transfer_->copies_after_grads(batch.order.front());
    update(batch, {}, [&](int s) {
      transfer_->mark_slot(s);
      slot_done(s);
    });
  });
}

void OffloadedStateStore::submit(std::vector<int> order, int priority) {
  TORCH_CHECK(open_, "offload: slots handed over outside a step");
  if (order.empty()) return;
  Batch batch{std::move(order), {}, priority};
  for (int i : batch.order) batch.grads.push_back((*slots_)[size_t(i)].grad());
  if (!background_) return update(batch, access_, {});
  transfer_->mark_grads_ready(batch.order.front());
  thread_.submit(std::move(batch));
}

void OffloadedStateStore::close() {
  if (background_) thread_.close();
}

void OffloadedStateStore::wait(int slot) {
  if (!background_ || !thread_.running()) return;
  thread_.wait(slot);
  transfer_->wait_slot(slot);
}

void OffloadedStateStore::finish() {
  if (!open_) return;
  open_ = false;
  thread_.finish();  // rethrows the update's failure
  transfer_->finish();
}

}  // namespace zs
