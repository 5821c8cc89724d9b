#include "zs/zero/offloaded_step.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <c10/util/Exception.h>

#include "zs/config/env.hpp"
#include "zs/io/host_memory.hpp"
#include "zs/zero/gradient_ring.hpp"
#include "zs/zero/zero_optimizer.hpp"

namespace zs {

int64_t offload_piece_elements() {
  constexpr int64_t kDefault = int64_t(4) << 20;
  const int64_t n = positive_int_from_env("ZS_OFFLOAD_PIECE_ELEMENTS").value_or(kDefault);
  return (n + 15) / 16 * 16;
}

OffloadedStep::OffloadedStep(HostOptimizer& optimizer, c10::Device device, const OffloadConfig& config)
    : optimizer_(optimizer),
      device_(device),
      // Only a CUDA build can pin; a CPU "device" needs no page-locked memory anyway.
      pin_memory_(config.pin_memory && device.is_cuda()),
      buffers_(int(std::max<int64_t>(1, config.buffer_count))),
      piece_elements_(offload_piece_elements()),
      transfer_(make_offload_transfer(device, buffers_, piece_elements_)) {}

at::Tensor OffloadedStep::make_master(const at::Tensor& own) const {
  at::Tensor master = empty_host(own.numel(), at::kFloat, pin_memory_);
  master.copy_(own.reshape({own.numel()}));
  return master;
}

void OffloadedStep::run(const std::vector<OwnedSlot>& slots, const std::function<at::Tensor(const OwnedSlot&)>& grad,
                        double lr, double grad_divisor, const SlotAccess& access) {
  std::vector<int> order;
  std::vector<at::Tensor> grads;
  for (size_t i = 0; i < slots.size(); ++i) {
    order.push_back(int(i));
    grads.push_back(grad(slots[i]));
  }
  run(slots, order, grads, lr, grad_divisor, access);
}

void OffloadedStep::run(const std::vector<OwnedSlot>& slots, const std::vector<int>& order,
                        const std::vector<at::Tensor>& grads, double lr, double grad_divisor, const SlotAccess& access) {
  TORCH_CHECK(!running(), "offload: a step started while the previous one is still updating");
  transfer_->begin();
  update(slots, order, grads, lr, grad_divisor, access, {});
  transfer_->finish();
}

void OffloadedStep::start(const std::vector<OwnedSlot>& slots, std::vector<int> order, std::vector<at::Tensor> grads,
                          double lr, double grad_divisor) {
  open(slots, lr, grad_divisor);
  submit(std::move(order), std::move(grads), 0);
  close();
}

void OffloadedStep::open(const std::vector<OwnedSlot>& slots, double lr, double grad_divisor) {
  TORCH_CHECK(!running(), "offload: a step started while the previous one is still updating");
  transfer_->begin();  // on the caller's stream: after the previous step's sends
  transfer_->prepare_slots(int(slots.size()));
  sent_.assign(slots.size(), 0);
  queue_.clear();
  closed_ = drained_ = false;
  error_ = nullptr;
  worker_ = std::thread([this, &slots, lr, grad_divisor] { work(slots, lr, grad_divisor); });
}

void OffloadedStep::submit(std::vector<int> order, std::vector<at::Tensor> grads, int priority) {
  if (order.empty()) return;
  transfer_->mark_grads_ready(order.front());
  std::lock_guard<std::mutex> lock(mutex_);
  TORCH_CHECK(!closed_, "offload: slots handed to a step that was closed");
  queue_.push_back(Batch{std::move(order), std::move(grads), priority});
  batch_queued_.notify_one();
}

void OffloadedStep::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  batch_queued_.notify_one();
}

void OffloadedStep::work(const std::vector<OwnedSlot>& slots, double lr, double grad_divisor) {
  const auto slot_done = [this](int s) {
    transfer_->mark_slot(s);
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
      transfer_->copies_after_grads(batch.order.front());
      update(slots, batch.order, batch.grads, lr, grad_divisor, {}, slot_done);
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  drained_ = true;
  slot_sent_.notify_all();
}

void OffloadedStep::wait_slot(int slot) {
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
  transfer_->wait_slot(slot);
}

void OffloadedStep::finish() {
  if (!running()) return;
  close();
  worker_.join();
  if (error_) {
    std::exception_ptr error = error_;
    error_ = nullptr;
    std::rethrow_exception(error);
  }
  transfer_->finish();
}

OffloadedStep::~OffloadedStep() {
  if (!worker_.joinable()) return;
  close();
  worker_.join();
}

void OffloadedStep::update(const std::vector<OwnedSlot>& slots, const std::vector<int>& order,
                           const std::vector<at::Tensor>& grads, double lr, double grad_divisor,
                           const SlotAccess& access, const std::function<void(int)>& slot_done) {
  std::vector<Piece> pieces;
  std::vector<int> piece_slots;
  if (slot_done)
    for (int i : order)
      if (slots[i].master.numel() == 0) slot_done(i);  // nothing to update: ready now
  for (int i : order)
    for (int64_t b = 0; b < slots[i].master.numel(); b += piece_elements_) {
      pieces.push_back({i, b, std::min(piece_elements_, slots[i].master.numel() - b)});
      piece_slots.push_back(i);
    }
  const size_t n = pieces.size();
  GradientRing ring(*transfer_, buffers_, n, [&](size_t k) {
    const Piece& p = pieces[k];
    return grads[p.slot].narrow(0, p.begin, p.numel);
  });
  for (size_t k = 0; k < n; ++k) {
    const at::Tensor& grad = ring.take(k);
    const int b = int(k % buffers_);
    const Piece& p = pieces[k];
    const OwnedSlot& slot = slots[p.slot];
    access.before(piece_slots, k);
    const at::Tensor dst = slot.own.narrow(0, p.begin, p.numel);
    if (dst.scalar_type() == at::kFloat) {
      // fp32 parameters: the master itself goes back.
      optimizer_.step_range(p.slot, p.begin, grad, lr, grad_divisor, at::Tensor());
      transfer_->send(b, slot.master.narrow(0, p.begin, p.numel), dst);
    } else {
      // 16-bit parameters: the update writes them on the way, into a buffer bound for the device.
      const at::Tensor out = transfer_->param_buffer(b, dst);
      optimizer_.step_range(p.slot, p.begin, grad, lr, grad_divisor, out);
      transfer_->send(b, out, dst);
    }
    access.after(piece_slots, k);
    ring.release(k);
    if (slot_done && (k + 1 == n || piece_slots[k + 1] != p.slot)) slot_done(p.slot);
  }
}

std::string OffloadedStep::describe() const {
  std::string where = "optimizer state offloaded to cpu (";
  where += pin_memory_ ? "pinned" : "not pinned";
  where += ") | " + optimizer_.describe() + " | " + std::to_string(buffers_) + " staging buffer(s) of " +
           std::to_string(piece_elements_) + " elements";
  return where;
}

}  // namespace zs
