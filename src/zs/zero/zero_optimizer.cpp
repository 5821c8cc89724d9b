#include "zs/zero/zero_optimizer.hpp"

#include <cmath>

#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include "zs/optim/grad_utils.hpp"

namespace zs {

namespace {
// fp32 gradient scratch the step may hold at once (elements): 256 MiB, or one bucket if larger.
constexpr int64_t kStepScratchElements = 64 << 20;
}  // namespace

ZeroOptimizer::ZeroOptimizer(FlatParams& flat, GradReducer& reducer, Communicator& comm, StagePolicy policy,
                             std::unique_ptr<Optimizer> optimizer, std::vector<double> group_weight_decay,
                             int64_t allgather_elements)
    : flat_(flat),
      reducer_(reducer),
      comm_(comm),
      policy_(policy),
      optimizer_(std::move(optimizer)),
      allgather_elements_(allgather_elements) {
  c10::NoGradGuard no_grad;
  const FlatLayout& layout = flat_.layout();
  separate_master_ = flat_.dtype() != at::kFloat;
  const int64_t master_numel = policy_.shard_optimizer ? layout.shard_numel : layout.total_numel;
  if (separate_master_)
    master_buffer_ = at::empty({master_numel}, flat_.buffer().options().dtype(at::kFloat));
  for (size_t b = 0; b < layout.buckets.size(); ++b) {
    const FlatBucket& bucket = layout.buckets[b];
    // fp32 training updates the parameter buffer in place; 16-bit keeps an fp32 copy.
    at::Tensor own = policy_.shard_optimizer ? flat_.chunk(int(b), comm_.rank()) : flat_.bucket(int(b));
    at::Tensor master = own;
    if (separate_master_) {
      const int64_t at_ = policy_.shard_optimizer ? bucket.shard_offset : bucket.offset;
      master = master_buffer_.narrow(0, at_, own.numel());
      master.copy_(own);
    }
    masters_.push_back(master);
    optimizer_->add_param(master, group_weight_decay.at(bucket.group));
  }
}

at::Tensor ZeroOptimizer::global_sq_norm() {
  std::vector<at::Tensor> parts;
  for (size_t b = 0; b < masters_.size(); ++b) parts.push_back(squared_norm(reducer_.shard_grad(int(b))));
  at::Tensor total = at::stack(parts).sum();
  // Stage 0: every rank holds the same full gradient; otherwise sum the shards' parts.
  if (policy_.shard_optimizer) comm_.all_reduce(total, ReduceOp::sum)->wait();
  return total;
}

bool ZeroOptimizer::any_overflow() {
  std::vector<at::Tensor> flags;
  for (size_t b = 0; b < masters_.size(); ++b) flags.push_back(has_inf_or_nan(reducer_.shard_grad(int(b))));
  at::Tensor any = at::stack(flags).amax();
  // Every rank must agree, or they would take different paths (and collectives) from here.
  comm_.all_reduce(any, ReduceOp::max)->wait();
  return any.item<double>() > 0;
}

StepOutcome ZeroOptimizer::step(double lr, double loss_scale, bool check_overflow, double max_norm) {
  c10::NoGradGuard no_grad;
  StepOutcome out;
  if (check_overflow && any_overflow()) {
    out.skipped = true;
    out.grad_norm = at::full({}, INFINITY, flat_.buffer().options().dtype(at::kFloat));
    reducer_.zero_grads();
    return out;
  }
  // Unscale and clip in one divisor, computed on the device: no wait for the host here.
  out.grad_norm = global_sq_norm().sqrt_().div_(loss_scale);
  std::optional<at::Tensor> divisor;
  if (max_norm > 0)
    divisor = out.grad_norm.add(1e-6).div_(max_norm).clamp_min_(1.0).mul_(loss_scale);
  else if (loss_scale != 1.0)
    divisor = at::full({}, loss_scale, out.grad_norm.options());

  // 16-bit gradients become fp32 a few buckets at a time, so the scratch stays bounded instead
  // of doubling the gradient memory.
  optimizer_->begin_step();
  std::vector<int> slots;
  std::vector<at::Tensor> grads;
  int64_t scratch = 0;
  auto flush = [&]() {
    if (!slots.empty()) optimizer_->step_slots(slots, grads, lr, divisor);
    slots.clear();
    grads.clear();
    scratch = 0;
  };
  for (size_t b = 0; b < masters_.size(); ++b) {
    at::Tensor g = reducer_.shard_grad(int(b));
    if (g.scalar_type() != at::kFloat) {
      g = g.to(at::kFloat);
      scratch += g.numel();
    }
    slots.push_back(int(b));
    grads.push_back(g);
    if (scratch >= kStepScratchElements) flush();
  }
  flush();
  reducer_.zero_grads();
  publish_parameters();
  return out;
}

int64_t ZeroOptimizer::own_begin(int b) const {
  return policy_.shard_optimizer ? flat_.layout().chunk_offset(b, comm_.rank()) : flat_.layout().buckets[b].offset;
}

void ZeroOptimizer::publish_parameters() {
  const FlatLayout& layout = flat_.layout();
  if (!policy_.gather_after_step) {
    if (separate_master_)
      for (size_t b = 0; b < masters_.size(); ++b) flat_.bucket(int(b)).copy_(masters_[b]);
    return;
  }
  // Every rank writes its updated chunk into its own part of each bucket, then the all-gather
  // fills in the other ranks' parts in place (no temporary copies). Gathers run in groups of
  // about allgather_bucket_size elements; a group starts once the previous one is done.
  std::vector<WorkHandle> works;
  int64_t in_flight = 0;
  for (size_t b = 0; b < layout.buckets.size(); ++b) {
    if (in_flight > 0 && in_flight + layout.buckets[b].numel > allgather_elements_) {
      for (auto& w : works) w->wait();
      works.clear();
      in_flight = 0;
    }
    at::Tensor own = flat_.chunk(int(b), comm_.rank());
    if (separate_master_) own.copy_(masters_[b]);
    works.push_back(comm_.all_gather(flat_.bucket(int(b)), own));
    in_flight += layout.buckets[b].numel;
  }
  for (auto& w : works) w->wait();
}

}  // namespace zs
