#include "zs/zero/zero_optimizer.hpp"

#include <cmath>

#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/maximum.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include "zs/optim/grad_utils.hpp"
#include "zs/zero/sharded_unit.hpp"
#include "zs/zero/unit_schedule.hpp"

namespace zs {

namespace {
// fp32 gradient scratch the step may hold at once (elements): 256 MiB, or one bucket if larger.
constexpr int64_t kStepScratchElements = 64 << 20;
}  // namespace

ZeroOptimizer::ZeroOptimizer(FlatParams& flat, GradReducer& reducer, Communicator& comm, StagePolicy policy,
                             std::unique_ptr<Optimizer> optimizer, std::vector<double> group_weight_decay,
                             int64_t allgather_elements, UnitSchedule* units)
    : flat_(flat),
      reducer_(reducer),
      comm_(comm),
      policy_(policy),
      optimizer_(std::move(optimizer)),
      allgather_elements_(allgather_elements),
      separate_master_(flat.dtype() != at::kFloat) {
  const FlatLayout& layout = flat_.layout();
  for (size_t b = 0; b < layout.buckets.size(); ++b) {
    OwnedSlot slot;
    slot.layout = &layout;
    slot.params = &flat_.params();
    slot.bucket = int(b);
    slot.own_begin = policy_.shard_optimizer ? layout.chunk_offset(int(b), comm_.rank()) : layout.buckets[b].offset;
    slot.own = policy_.shard_optimizer ? flat_.chunk(int(b), comm_.rank()) : flat_.bucket(int(b));
    add_slot(std::move(slot), group_weight_decay.at(layout.buckets[b].group));
  }
  if (units) {
    for (const auto& unit : units->units()) {
      for (size_t b = 0; b < unit->layout().buckets.size(); ++b) {
        OwnedSlot slot;
        slot.layout = &unit->layout();
        slot.params = &unit->params();
        slot.bucket = int(b);
        slot.own_begin = unit->own_begin(int(b));
        slot.own = unit->shard(int(b));
        slot.unit = unit.get();
        add_slot(std::move(slot), group_weight_decay.at(unit->layout().buckets[b].group));
      }
    }
  }
}

void ZeroOptimizer::add_slot(OwnedSlot slot, double weight_decay) {
  c10::NoGradGuard no_grad;
  // fp32 training updates the parameter values in place; 16-bit keeps an fp32 copy.
  slot.master = separate_master_ ? slot.own.to(at::kFloat) : slot.own;
  optimizer_->add_param(slot.master, weight_decay);
  slots_.push_back(std::move(slot));
}

at::Tensor ZeroOptimizer::grad(const OwnedSlot& slot) const {
  return slot.unit ? slot.unit->shard_grad(slot.bucket) : reducer_.shard_grad(slot.bucket);
}

at::Tensor ZeroOptimizer::global_sq_norm() {
  at::Tensor total = at::zeros({}, flat_.buffer().options().dtype(at::kFloat));
  for (const OwnedSlot& slot : slots_) total.add_(squared_norm(grad(slot)));
  // Stage 0: every rank holds the same full gradient; otherwise sum the shards' parts.
  if (policy_.shard_optimizer) comm_.all_reduce(total, ReduceOp::sum)->wait();
  return total;
}

bool ZeroOptimizer::any_overflow() {
  at::Tensor any = at::zeros({}, flat_.buffer().options().dtype(at::kFloat));
  for (const OwnedSlot& slot : slots_) any = at::maximum(any, has_inf_or_nan(grad(slot)));
  // Every rank must agree, or they would take different paths (and collectives) from here.
  comm_.all_reduce(any, ReduceOp::max)->wait();
  return any.item<double>() > 0;
}

StepOutcome ZeroOptimizer::step(double lr, double loss_scale, bool check_overflow, double max_norm) {
  c10::NoGradGuard no_grad;
  StepOutcome out;
  auto zero_grads = [&]() {
    reducer_.zero_grads();  // unit shard gradients are overwritten by the next window's first reduction
  };
  if (check_overflow && any_overflow()) {
    out.skipped = true;
    out.grad_norm = at::full({}, INFINITY, flat_.buffer().options().dtype(at::kFloat));
    zero_grads();
    return out;
  }
  // Unscale and clip in one divisor, computed on the device: no wait for the host here.
  out.grad_norm = global_sq_norm().sqrt_().div_(loss_scale);
  std::optional<at::Tensor> divisor;
  if (max_norm > 0)
    divisor = out.grad_norm.add(1e-6).div_(max_norm).clamp_min_(1.0).mul_(loss_scale);
  else if (loss_scale != 1.0)
    divisor = at::full({}, loss_scale, out.grad_norm.options());

  // 16-bit gradients become fp32 a few slots at a time, so the scratch stays bounded instead
  // of doubling the gradient memory.
  optimizer_->begin_step();
  std::vector<int> batch;
  std::vector<at::Tensor> grads;
  int64_t scratch = 0;
  auto flush = [&]() {
    if (!batch.empty()) optimizer_->step_slots(batch, grads, lr, divisor);
    batch.clear();
    grads.clear();
    scratch = 0;
  };
  for (size_t i = 0; i < slots_.size(); ++i) {
    at::Tensor g = grad(slots_[i]);
    if (g.scalar_type() != at::kFloat) {
      g = g.to(at::kFloat);
      scratch += g.numel();
    }
    batch.push_back(int(i));
    grads.push_back(g);
    if (scratch >= kStepScratchElements) flush();
  }
  flush();
  zero_grads();
  publish_parameters();
  return out;
}

void ZeroOptimizer::publish_parameters() {
  c10::NoGradGuard no_grad;
  // Every rank writes its updated values into its own part of each bucket; for gathered buckets
  // the all-gather then fills in the other ranks' parts in place (no temporary copies). Gathers
  // run in groups of about allgather_bucket_size elements; a group starts once the previous one
  // is done.
  std::vector<WorkHandle> works;
  int64_t in_flight = 0;
  for (const OwnedSlot& slot : slots_) {
    if (separate_master_) slot.own.copy_(slot.master);
    if (slot.unit || !policy_.gather_after_step) continue;
    const int64_t numel = flat_.layout().buckets[slot.bucket].numel;
    if (in_flight > 0 && in_flight + numel > allgather_elements_) {
      for (auto& w : works) w->wait();
      works.clear();
      in_flight = 0;
    }
    works.push_back(comm_.all_gather(flat_.bucket(slot.bucket), slot.own));
    in_flight += numel;
  }
  for (auto& w : works) w->wait();
}

}  // namespace zs
