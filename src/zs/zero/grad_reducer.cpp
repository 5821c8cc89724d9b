#include "zs/zero/grad_reducer.hpp"

#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include "zs/zero/grad_ready_hook.hpp"

namespace zs {

GradReducer::GradReducer(FlatParams& flat, Communicator& comm, StagePolicy policy, ReducerOptions options)
    : flat_(flat), comm_(comm), policy_(policy), options_(options), rank_(comm.rank()), world_(comm.size()) {
  const FlatLayout& layout = flat_.layout();
  // Stage 2 has no full gradient buffer, so its shard gradients need their own; stage 1
  // reduce-scatters in place, into this rank's chunk of the full buffer.
  if (policy_.shard_gradients)
    shard_grads_ = at::zeros({layout.shard_numel}, flat_.buffer().options());
  bucket_staging_.assign(layout.buckets.size(), -1);
  direct_input_.resize(layout.buckets.size());
  for (size_t i = 0; i < flat_.params().size(); ++i)
    set_grad_ready_hook(flat_.params()[i].tensor, [this, i] { on_grad_ready(int(i)); });
}

GradReducer::~GradReducer() {
  for (const auto& p : flat_.params()) clear_grad_ready_hook(p.tensor);
}

void GradReducer::begin_backward(bool boundary, bool first) {
  communicate_ = boundary || policy_.reduce_every_micro_step;
  first_micro_step_ = first;
  const FlatLayout& layout = flat_.layout();
  remaining_.resize(layout.buckets.size());
  for (size_t b = 0; b < layout.buckets.size(); ++b)
    remaining_[b] = layout.buckets[b].end_entry - layout.buckets[b].first_entry;
  ready_.assign(layout.buckets.size(), 0);
  seen_.assign(layout.entries.size(), 0);
  next_launch_ = 0;
  in_backward_ = true;
  flat_.attach_grads();
}

void GradReducer::on_grad_ready(int entry) {
  if (!in_backward_ || seen_[entry]) return;
  seen_[entry] = 1;
  const FlatEntry& e = flat_.layout().entries[entry];
  if (policy_.shard_gradients) {
    // Hand the gradient to its bucket and drop .grad: no full gradient stays alive. A bucket that
    // is exactly one parameter (no padding) reduces straight from that gradient; others gather
    // their gradients in a staging buffer.
    at::Tensor& p = const_cast<at::Tensor&>(flat_.params()[entry].tensor);
    const FlatBucket& bucket = flat_.layout().buckets[e.bucket];
    if (p.grad().defined() && bucket.numel == e.numel && p.grad().is_contiguous()) {
      direct_input_[e.bucket] = p.grad().view(-1);
    } else {
      if (bucket_staging_[e.bucket] < 0) bucket_staging_[e.bucket] = acquire_staging(e.bucket);
      if (p.grad().defined()) {
        c10::NoGradGuard no_grad;
        staging_[bucket_staging_[e.bucket]].buffer.narrow(0, e.offset - bucket.offset, e.numel).copy_(p.grad().reshape(-1));
      }
    }
    p.mutable_grad().reset();
  }
  if (communicate_ && --remaining_[e.bucket] == 0) mark_ready(e.bucket);
}

void GradReducer::mark_ready(int bucket) {
  ready_[bucket] = 1;
  // Without overlap, stages 0/1 launch everything after backward; stage 2 cannot keep its
  // staging buffers that long, so it reduces each bucket at once and waits for it.
  if (!options_.overlap_comm && !policy_.shard_gradients) return;
  const int n = int(ready_.size());
  while (next_launch_ < n && ready_[next_launch_]) {
    launch(next_launch_++);
    if (!options_.overlap_comm) {
      finish(pending_.back());
      pending_.pop_back();
    }
  }
}

int GradReducer::acquire_staging(int bucket) {
  const int64_t need = flat_.layout().buckets[bucket].numel;
  // Prefer a free buffer whose last collective is done; double-buffer before waiting on one.
  int candidate = -1;
  for (size_t i = 0; i < staging_.size(); ++i) {
    Staging& s = staging_[i];
    if (s.busy || s.buffer.numel() < need) continue;
    if (!s.last_use || s.last_use->completed()) { candidate = int(i); break; }
    if (candidate < 0) candidate = int(i);
  }
  const size_t double_buffer = options_.overlap_comm ? 2 : 1;
  if (candidate < 0 || (staging_[candidate].last_use && staging_.size() < double_buffer)) {
    // Sized for the largest bucket that needs staging (single-parameter buckets do not).
    int64_t size = need;
    for (const auto& b : flat_.layout().buckets)
      if (b.end_entry - b.first_entry > 1 || b.numel != flat_.layout().entries[b.first_entry].numel)
        size = std::max(size, b.numel);
    staging_.push_back(Staging{at::empty({size}, flat_.buffer().options()), nullptr, false});
    candidate = int(staging_.size()) - 1;
  }
  Staging& s = staging_[candidate];
  if (s.last_use) s.last_use->wait();  // stream-ordered on CUDA: no host stall
  s.last_use.reset();
  s.busy = true;
  s.buffer.narrow(0, 0, need).zero_();  // parameters without a gradient contribute zeros
  return candidate;
}

void GradReducer::launch(int b) {
  c10::NoGradGuard no_grad;
  const FlatBucket& bucket = flat_.layout().buckets[b];
  at::Tensor input;
  int staging = -1;
  if (policy_.shard_gradients && direct_input_[b].defined()) {
    input = std::move(direct_input_[b]);  // the collective keeps it alive until it is done
    direct_input_[b] = at::Tensor();
  } else if (policy_.shard_gradients) {
    if (bucket_staging_[b] < 0) bucket_staging_[b] = acquire_staging(b);  // a bucket with no gradients at all
    staging = bucket_staging_[b];
    bucket_staging_[b] = -1;
    input = staging_[staging].buffer.narrow(0, 0, bucket.numel);
  } else {
    input = flat_.grad_bucket(b);
  }
  Pending p;
  p.staging = staging;
  const bool accumulate = policy_.reduce_every_micro_step && !first_micro_step_;
  p.reduction = start_reduction(comm_, input, shard_grad(b), /*whole_bucket=*/!policy_.shard_optimizer, accumulate, options_);
  if (staging >= 0 && p.reduction.result.is_alias_of(input)) {
    // The result is a view of the staging buffer itself: keep it until finish() has read it.
    p.release_staging_in_finish = true;
  } else if (staging >= 0) {
    // The buffer may be refilled once this collective is done (acquire_staging waits on it).
    staging_[staging].busy = false;
    staging_[staging].last_use = p.reduction.work;
  }
  pending_.push_back(std::move(p));
}

void GradReducer::finish(Pending& p) {
  finish_reduction(p.reduction, options_, world_);
  if (p.release_staging_in_finish) {
    staging_[p.staging].busy = false;
    staging_[p.staging].last_use.reset();  // ordered on the stream that just read it
  }
}

void GradReducer::end_backward() {
  in_backward_ = false;
  if (communicate_) {
    const int n = int(flat_.layout().buckets.size());
    while (next_launch_ < n) launch(next_launch_++);
    for (Pending& p : pending_) finish(p);
  }
  pending_.clear();
  // Stage 2: give the staging buffers back between backward passes, so they do not sit on top of
  // the next forward's activations (the caching allocator hands the memory out again cheaply).
  // Safe to free: finish() ordered this stream after every collective that read them.
  if (communicate_) staging_.clear();
}

at::Tensor GradReducer::shard_grad(int b) const {
  if (!policy_.shard_optimizer) return flat_.grad_bucket(b);
  const FlatBucket& bucket = flat_.layout().buckets[b];
  if (!policy_.shard_gradients) return flat_.grad_bucket(b).narrow(0, rank_ * bucket.chunk, bucket.chunk);
  return shard_grads_.narrow(0, bucket.shard_offset, bucket.chunk);
}

void GradReducer::zero_grads() {
  flat_.zero_grad_buffer();
  // Stage 1/2 shard gradients are overwritten by the next window's first reduction.
}

}  // namespace zs
