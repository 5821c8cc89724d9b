// ParamGroup: the gradient side. A post-accumulate-grad hook on every parameter counts down its
// bucket; a bucket whose last gradient landed is reduced across ranks (param_group.hpp).
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>

#include "zs/zero/param_group.hpp"
#include "zs/zero/storage.hpp"

namespace zs {

void ParamGroup::begin_backward(bool boundary, bool first) {
  communicate_ = boundary || !options_.grad_buffer;
  boundary_ = boundary;
  first_micro_step_ = first;
  remaining_.resize(layout_.buckets.size());
  for (size_t b = 0; b < layout_.buckets.size(); ++b)
    remaining_[b] = layout_.buckets[b].end_entry - layout_.buckets[b].first_entry;
  ready_.assign(layout_.buckets.size(), 0);
  seen_.assign(layout_.entries.size(), kNotYet);
  next_launch_ = 0;
  in_backward_ = true;
  if (options_.grad_buffer) attach_grads();
}

void ParamGroup::attach_grads() {
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].tensor;
    if (!p.grad().defined() || !p.grad().is_same(grad_views_[i])) {
      // A user reset or replaced .grad; fold what it holds into the buffer and re-point it.
      if (p.grad().defined()) grad_views_[i].add_(p.grad());
      p.mutable_grad() = grad_views_[i];
    }
  }
}

at::ScalarType ParamGroup::staging_dtype() const { return options_.reduce.comm_dtype.value_or(full_.scalar_type()); }

bool ParamGroup::stages_into_shard_grads() const {
  // One rank's reduce-scatter is the identity: a window's first micro-step can stage its gradients
  // straight in the shard gradient, and the hand-over copies nothing. A codec (which rounds) and a
  // dtype change keep the staging buffer.
  return comm_.size() == 1 && first_micro_step_ && !options_.reduce.codec &&
         staging_dtype() == shard_grads_.scalar_type();
}

at::Tensor ParamGroup::staging(int b) {
  if (staging_[b].defined()) return staging_[b];
  if (stages_into_shard_grads()) {
    if (!has_shard_grads()) allocate_shard_grads(/*zeroed=*/false);  // every element is written
    staging_[b] = shard_grad(b);
  } else {
    staging_[b] = at::empty({layout_.buckets[b].numel}, full_.options().dtype(staging_dtype()));
  }
  return staging_[b];
}

at::Tensor ParamGroup::grad_place(int entry) {
  // Staged groups in backward, once per parameter and backward (a weight used twice gets its second
  // gradient the usual way), when the staging dtype is the gradient's; in buckets of several
  // parameters, since a bucket of one reduces straight from .grad, unless the staging buffer is the
  // shard gradient itself (stages_into_shard_grads: one rank, a window's first micro-step): then the
  // gradient is written where the optimizer reads it.
  if (!in_backward_ || options_.grad_buffer || seen_[entry] != kNotYet) return {};
  const FlatEntry& e = layout_.entries[entry];
  const FlatBucket& bucket = layout_.buckets[e.bucket];
  const at::Tensor& p = params_[entry].tensor;
  if ((bucket.numel == e.numel && !stages_into_shard_grads()) || staging_dtype() != p.scalar_type()) return {};
  seen_[entry] = kPlaceTaken;
  return staging(e.bucket).narrow(0, e.offset - bucket.offset, e.numel).view(p.sizes());
}

bool ParamGroup::in_its_place(int entry, const at::Tensor& g) const {
  const FlatEntry& e = layout_.entries[entry];
  const at::Tensor& s = staging_[e.bucket];
  if (!s.defined() || !g.is_contiguous() || g.scalar_type() != s.scalar_type() || g.numel() != e.numel) return false;
  const int64_t offset = e.offset - layout_.buckets[e.bucket].offset;
  return g.const_data_ptr() == static_cast<const char*>(s.const_data_ptr()) + offset * s.element_size();
}

void ParamGroup::on_grad_ready(int entry) {
  if (!in_backward_ || (seen_[entry] != kNotYet && seen_[entry] != kPlaceTaken)) return;
  seen_[entry] = kWithoutGrad;
  const FlatEntry& e = layout_.entries[entry];
  if (!options_.grad_buffer) {
    // Hand the gradient to its bucket and drop .grad: no full gradient stays alive. A bucket that
    // is exactly one parameter (no padding) reduces straight from that gradient; others gather
    // their gradients in a staging buffer.
    at::Tensor& p = params_[entry].tensor;
    const FlatBucket& bucket = layout_.buckets[e.bucket];
    const at::Tensor& g = p.grad();
    if (g.defined()) {
      c10::NoGradGuard no_grad;
      if (in_its_place(entry, g)) {
        // Written into the staging buffer by the layer that computed it (base/grad_place.hpp).
      } else if (bucket.numel == e.numel && g.is_contiguous() && g.scalar_type() == staging_dtype()) {
        direct_[e.bucket] = g.view(-1);
        staging_[e.bucket] = at::Tensor();
      } else {
        staging(e.bucket).narrow(0, e.offset - bucket.offset, e.numel).copy_(g.reshape(-1));
      }
      seen_[entry] = kWritten;
    }
    p.mutable_grad().reset();
  }
  if (communicate_ && --remaining_[e.bucket] == 0) mark_ready(e.bucket);
}

void ParamGroup::mark_ready(int bucket) {
  ready_[bucket] = 1;
  // Gradient-buffer groups without overlap launch everything after backward; staged groups cannot
  // keep their staging buffers that long.
  if (!options_.reduce.overlap_comm && options_.grad_buffer) return;
  const int n = int(ready_.size());
  while (next_launch_ < n && ready_[next_launch_]) launch(next_launch_++);
}

void ParamGroup::zero_unwritten_staging(int b) {
  // Only what no gradient was copied into: padding and parameters that got no gradient (they
  // count as zero), in as few fills as possible.
  const FlatBucket& bucket = layout_.buckets[b];
  at::Tensor s = staging(b);
  int64_t gap_begin = 0;
  auto fill_gap_until = [&](int64_t end) {
    if (end > gap_begin) s.narrow(0, gap_begin, end - gap_begin).zero_();
  };
  for (int e = bucket.first_entry; e < bucket.end_entry; ++e) {
    if (seen_[size_t(e)] != kWritten) continue;
    const FlatEntry& entry = layout_.entries[size_t(e)];
    fill_gap_until(entry.offset - bucket.offset);
    gap_begin = entry.offset - bucket.offset + entry.numel;
  }
  fill_gap_until(bucket.numel);
}

void ParamGroup::launch(int b) {
  c10::NoGradGuard no_grad;
  const FlatBucket& bucket = layout_.buckets[b];
  const bool last = next_launch_ == int(layout_.buckets.size());
  std::function<void()> done = options_.partitioned && boundary_ && last ? after_reduced_ : nullptr;
  if (options_.grad_buffer) {
    at::Tensor grads = grad_buffer_.narrow(0, bucket.offset, bucket.numel);
    at::Tensor target = options_.shard_optimizer ? grads.narrow(0, comm_.rank() * bucket.chunk, bucket.chunk) : grads;
    reductions_.launch(grads, target, /*whole_bucket=*/!options_.shard_optimizer, /*accumulate=*/false, /*staged=*/false,
                       std::move(done));
  } else {
    // The window's first reduction overwrites every element; later ones add to them.
    if (!has_shard_grads()) allocate_shard_grads(/*zeroed=*/!first_micro_step_);
    at::Tensor input;
    bool staged = false;
    if (direct_[b].defined()) {
      input = std::move(direct_[b]);  // the collective keeps it alive until it is done
      direct_[b] = at::Tensor();
    } else {
      zero_unwritten_staging(b);
      input = std::move(staging_[b]);
      staging_[b] = at::Tensor();
      staged = true;
    }
    reductions_.launch(input, shard_grad(b), /*whole_bucket=*/false, /*accumulate=*/!first_micro_step_, staged,
                       std::move(done));
  }
  // A partitioned group is done with its parameters once every bucket is on its way.
  if (options_.partitioned && last) release();
}

void ParamGroup::end_backward() {
  if (!in_backward_) return;
  in_backward_ = false;
  if (communicate_) {
    const int n = int(layout_.buckets.size());
    while (next_launch_ < n) launch(next_launch_++);
  }
  reductions_.finish_all();
  release();
}

at::Tensor ParamGroup::shard_grad(int b) {
  const FlatBucket& bucket = layout_.buckets[b];
  if (options_.grad_buffer) {
    at::Tensor grads = grad_buffer_.narrow(0, bucket.offset, bucket.numel);
    return options_.shard_optimizer ? grads.narrow(0, comm_.rank() * bucket.chunk, bucket.chunk) : grads;
  }
  if (!has_shard_grads()) allocate_shard_grads(/*zeroed=*/true);  // a step with no backward before it
  return shard_grads_.narrow(0, bucket.shard_offset, bucket.chunk);
}

bool ParamGroup::has_shard_grads() const { return has_storage(shard_grads_); }

void ParamGroup::allocate_shard_grads(bool zeroed) {
  allocate_storage(shard_grads_);
  if (zeroed) shard_grads_.zero_();
}

void ParamGroup::zero_grads() {
  if (grad_buffer_.defined()) grad_buffer_.zero_();
  if (shard_grads_.defined()) free_storage(shard_grads_);  // the next window allocates afresh
}

}  // namespace zs
