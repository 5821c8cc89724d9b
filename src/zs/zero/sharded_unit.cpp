#include "zs/zero/sharded_unit.hpp"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/GradMode.h>

#include "zs/zero/activation_checkpoint.hpp"
#include "zs/zero/grad_ready_hook.hpp"
#include "zs/zero/param_swapper.hpp"
#include "zs/zero/unit_schedule.hpp"

namespace zs {

namespace {
// ZS_TRACE_UNITS=1 prints every gather, release and reduction (for diagnosing stage-3 runs).
bool trace_units() {
  static const bool on = [] {
    const char* v = std::getenv("ZS_TRACE_UNITS");
    return v && *v && *v != '0';
  }();
  return on;
}
// A unit's full buffer, shard and gradient shard keep their tensors (and the views on them) for
// the unit's life; only their memory comes and goes. The storage is allocated for all its elements
// on the tensor's device, or left empty (nbytes 0: reading it is a bug).
void allocate_storage(const at::Tensor& t) {
  const c10::DeviceGuard on_device(t.device());  // allocators serve the current device
  c10::Storage storage = t.storage();
  const size_t bytes = size_t(t.numel()) * t.element_size();
  storage.set_data_ptr_noswap(storage.allocator()->allocate(bytes));
  storage.set_nbytes(bytes);
}

void free_storage(const at::Tensor& t) {
  c10::Storage storage = t.storage();
  storage.set_data_ptr_noswap(at::DataPtr(nullptr, t.device()));
  storage.set_nbytes(0);
}
}  // namespace

#define ZS_UNIT_TRACE(what)                                                                          \
  do {                                                                                               \
    if (trace_units()) {                                                                             \
      std::fprintf(stderr, "[unit trace] rank %d %s: %s\n", comm_.rank(), name_.c_str(), what);     \
      std::fflush(stderr);                                                                           \
    }                                                                                                \
  } while (0)

FlatLayout make_unit_layout(const std::vector<NamedParam>& params, const std::vector<int>& groups, int world) {
  std::vector<int64_t> numels;
  for (const auto& p : params) numels.push_back(p.tensor.numel());
  // One bucket per group: the whole unit is gathered and reduced at once.
  return make_flat_layout(numels, groups, world, /*bucket_elements=*/INT64_MAX / 4);
}

ShardedUnit::ShardedUnit(std::string name, UnitModule& module, std::vector<NamedParam> params,
                         const std::vector<int>& groups, Communicator& comm, UnitSchedule& schedule,
                         ReducerOptions options, at::TensorOptions tensor_options, ShardPlacement placement)
    : name_(std::move(name)),
      module_(module),
      params_(std::move(params)),
      comm_(comm),
      schedule_(schedule),
      options_(options),
      nvme_(placement.nvme) {
  layout_ = make_unit_layout(params_, groups, comm_.size());
  tensor_options = tensor_options.requires_grad(false);
  c10::NoGradGuard no_grad;

  // Lay rank 0's values out once on the device, keep this rank's chunks, then drop the full copy.
  full_ = at::zeros({layout_.total_numel}, tensor_options);
  for (size_t i = 0; i < params_.size(); ++i)
    full_.narrow(0, layout_.entries[i].offset, layout_.entries[i].numel).copy_(params_[i].tensor.detach().reshape(-1));
  comm_.broadcast(full_, 0)->wait();
  // Reduced gradients are kept in the communication dtype (an fp32 reduction is not rounded back
  // to 16 bits) and only from a window's first reduction to the step (drop_shard_grads), so
  // they take no memory while activations peak at the start of backward.
  shard_grads_ = at::empty({layout_.shard_numel},
                           tensor_options.dtype(options_.comm_dtype.value_or(tensor_options.dtype().toScalarType())));
  drop_shard_grads();
  if (nvme_) {
    // The shard goes to its file through a pool buffer; its own storage stays empty.
    shard_ = at::empty({layout_.shard_numel}, tensor_options.device(at::kCPU));
    bind_shard(nullptr);
    open_shard(/*read=*/false);
  } else {
    const bool host = placement.on_host && !tensor_options.device().is_cpu();
    shard_ = at::empty({layout_.shard_numel},
                       host ? tensor_options.device(at::kCPU).pinned_memory(placement.pin_memory) : tensor_options);
  }
  for (size_t b = 0; b < layout_.buckets.size(); ++b) shard(int(b)).copy_(full_.narrow(0, own_begin(int(b)), layout_.buckets[b].chunk));
  close_shard(/*write=*/true);

  // Each parameter becomes a tensor on the full buffer's storage, but not an autograd view of it.
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].tensor;
    at::Tensor alias = at::empty({0}, tensor_options);
    alias.set_(full_.storage(), full_.storage_offset() + layout_.entries[i].offset, {layout_.entries[i].numel}, {1});
    p.set_data(alias.view(p.sizes()));
    set_grad_ready_hook(p, [this, i] { on_grad_ready(int(i)); });
  }
  state_ = State::gathered;
  release();
  module_.set_unit_hooks(this);
}

ShardedUnit::~ShardedUnit() {
  module_.set_unit_hooks(nullptr);
  for (const auto& p : params_) clear_grad_ready_hook(p.tensor);
  if (state_ == State::reading) (void)read_.wait_for_error();  // the buffer must not be written after we go
}

at::Tensor ShardedUnit::shard(int b) const {
  return shard_.narrow(0, layout_.buckets[b].shard_offset, layout_.buckets[b].chunk);
}

at::Tensor ShardedUnit::shard_grad(int b) {
  if (!has_shard_grads()) allocate_shard_grads(/*zeroed=*/true);  // a step with no backward before it
  return shard_grads_.narrow(0, layout_.buckets[b].shard_offset, layout_.buckets[b].chunk);
}

bool ShardedUnit::has_shard_grads() const { return shard_grads_.storage().nbytes() > 0; }

void ShardedUnit::allocate_shard_grads(bool zeroed) {
  allocate_storage(shard_grads_);
  if (zeroed) shard_grads_.zero_();
}

void ShardedUnit::drop_shard_grads() { free_storage(shard_grads_); }

int64_t ShardedUnit::own_begin(int b) const { return layout_.chunk_offset(b, comm_.rank()); }


void ShardedUnit::bind_shard(void* data) {
  c10::Storage storage = shard_.storage();
  storage.set_data_ptr_noswap(at::DataPtr(data, at::Device(at::kCPU)));  // not owned: the pool's buffer
  storage.set_nbytes(data ? size_t(layout_.shard_numel) * shard_.element_size() : 0);
}

void ShardedUnit::open_shard(bool read) {
  if (!nvme_ || open_buffer_ >= 0) return;
  const int b = nvme_->acquire();
  TORCH_CHECK(b >= 0, "offload_param nvme: no free buffer to update unit ", name_, " (all ",
              nvme_->buffer_count(), " are in use)");
  if (read) {
    try {
      nvme_->read(name_, b, layout_.shard_numel).wait();
    } catch (...) {
      nvme_->release(b);
      throw;
    }
  }
  open_buffer_ = b;
  bind_shard(nvme_->view(b, layout_.shard_numel).data_ptr());
}

void ShardedUnit::close_shard(bool write) {
  if (!nvme_ || open_buffer_ < 0) return;
  bind_shard(nullptr);
  const int b = open_buffer_;
  open_buffer_ = -1;
  if (write) nvme_->write_and_release(name_, b, layout_.shard_numel);
  else nvme_->release(b);
}

void ShardedUnit::start_gather() { begin_gather(/*prefetch=*/true); }

void ShardedUnit::begin_gather(bool prefetch) {
  if (state_ != State::released) return;
  if (before_gather_) before_gather_();
  if (nvme_) {
    TORCH_CHECK(open_buffer_ < 0, "offload_param nvme: unit ", name_, " gathered while its shard is open");
    // A prefetch leaves one buffer for the gather that cannot wait; without a spare one the unit
    // is gathered when it runs.
    const int b = nvme_->acquire(prefetch ? 1 : 0);
    if (b < 0 && prefetch) return;
    TORCH_CHECK(b >= 0, "offload_param nvme: no free buffer to gather unit ", name_, " (all ", nvme_->buffer_count(),
                " are in use)");
    ZS_UNIT_TRACE(prefetch ? "start read (prefetch)" : "start read");
    allocate_storage(full_);
    read_buffer_ = b;
    read_ = nvme_->read(name_, b, layout_.shard_numel);
    state_ = State::reading;
    return;
  }
  ZS_UNIT_TRACE("start gather");
  allocate_storage(full_);
  if (!masters_.empty()) {
    // This rank's part is rounded from its fp32 masters straight into the full buffer, which the
    // collective then fills in around it.
    c10::NoGradGuard no_grad;
    for (size_t b = 0; b < layout_.buckets.size(); ++b)
      full_.narrow(0, own_begin(int(b)), layout_.buckets[b].chunk).copy_(masters_[b]);
    launch_gather(at::Tensor());
    return;
  }
  // Offloaded shards come up first (asynchronous from pinned memory); the collectives keep the
  // device copy alive until they are done.
  launch_gather(shard_.device() == full_.device() ? shard_ : shard_.to(full_.device(), /*non_blocking=*/true));
}

void ShardedUnit::launch_gather(const at::Tensor& source) {
  for (size_t b = 0; b < layout_.buckets.size(); ++b) {
    const FlatBucket& bucket = layout_.buckets[b];
    const at::Tensor mine = source.defined() ? source.narrow(0, bucket.shard_offset, bucket.chunk)
                                             : full_.narrow(0, own_begin(int(b)), bucket.chunk);  // in place
    gather_works_.push_back(comm_.all_gather(full_.narrow(0, bucket.offset, bucket.numel), mine));
  }
  state_ = State::gathering;
}

void ShardedUnit::gather_from_masters(std::vector<at::Tensor> masters) {
  TORCH_CHECK(masters.size() == layout_.buckets.size(), "ShardedUnit ", name_, ": ", masters.size(),
              " masters for ", layout_.buckets.size(), " buckets");
  TORCH_CHECK(!nvme_ && shard_.device() == full_.device(), "ShardedUnit ", name_,
              ": only a shard on the device can be replaced by its masters");
  for (size_t b = 0; b < masters.size(); ++b)
    TORCH_CHECK(masters[b].numel() == layout_.buckets[b].chunk && masters[b].device() == full_.device(),
                "ShardedUnit ", name_, ": master ", b, " does not match its chunk");
  masters_ = std::move(masters);
  free_storage(shard_);
}

void ShardedUnit::gather() {
  begin_gather(/*prefetch=*/false);
  if (state_ == State::reading) {
    // The collective starts once the shard has landed: here, in program order on every rank.
    read_.wait();
    read_ = SwapHandle();
    const at::Tensor host = nvme_->view(read_buffer_, layout_.shard_numel);
    launch_gather(full_.device().is_cpu() ? host : host.to(full_.device()));
  }
  if (state_ == State::gathering) {
    for (auto& w : gather_works_) w->wait();
    gather_works_.clear();
    if (read_buffer_ >= 0) {
      nvme_->release(read_buffer_);  // the collectives are done with it
      read_buffer_ = -1;
    }
    state_ = State::gathered;
    ZS_UNIT_TRACE("gathered");
  }
}

void ShardedUnit::set_pinned(bool pinned) {
  pinned_ = pinned;
  if (pinned_)
    gather();
  else
    release();
}

void ShardedUnit::release() {
  if (state_ == State::released || pinned_) return;
  if (state_ == State::reading) {
    // A prefetched read that nobody used: no collective was launched, none is needed.
    (void)read_.wait_for_error();
    read_ = SwapHandle();
    nvme_->release(read_buffer_);
    read_buffer_ = -1;
  } else {
    gather();  // a prefetch still in flight must land before its buffer goes away
  }
  ZS_UNIT_TRACE("release");
  free_storage(full_);
  state_ = State::released;
}

at::Tensor ShardedUnit::run(UnitModule& unit, const at::Tensor& x) {
  gather();
  schedule_.on_forward(this);
  at::Tensor y = unit.activation_checkpointing()
                     ? checkpointed([&unit](const at::Tensor& in) { return unit.forward_unhooked(in); }, x)
                     : unit.forward_unhooked(x);
  return after_forward(y);
}

at::Tensor ShardedUnit::after_forward(const at::Tensor& output) {
  const bool backward_follows = c10::GradMode::is_enabled() && output.requires_grad();
  if (!(backward_follows && schedule_.keep_after_forward(this))) release();
  if (backward_follows) {
    // Fires when the gradient of the unit's output is ready, before the unit's own backward runs.
    output.register_hook([this](const at::Tensor&) { before_backward(); });
  }
  return output;
}

void ShardedUnit::before_backward() {
  ZS_UNIT_TRACE("before backward");
  gather();
  schedule_.on_backward(this);
}

void ShardedUnit::begin_backward(bool first_micro_step) {
  first_micro_step_ = first_micro_step;
  seen_.assign(params_.size(), 0);
  remaining_ = int(params_.size());
  in_backward_ = true;
  reduced_ = false;
}

void ShardedUnit::on_grad_ready(int entry) {
  if (!in_backward_ || seen_[entry]) return;
  seen_[entry] = 1;
  at::Tensor& p = params_[entry].tensor;
  if (!staging_.defined()) staging_ = at::empty({layout_.total_numel}, shard_grads_.options());
  if (p.grad().defined()) {
    c10::NoGradGuard no_grad;
    staging_.narrow(0, layout_.entries[entry].offset, layout_.entries[entry].numel).copy_(p.grad().reshape(-1));
    seen_[entry] = 2;  // its part of the staging buffer is written
  }
  p.mutable_grad().reset();
  if (--remaining_ == 0) reduce_gradients();
}

void ShardedUnit::reduce_gradients() {
  if (reduced_) return;
  reduced_ = true;
  ZS_UNIT_TRACE("reduce gradients");
  c10::NoGradGuard no_grad;
  zero_unwritten_staging();
  // The window's first reduction overwrites every element; later ones add to them.
  if (!has_shard_grads()) allocate_shard_grads(/*zeroed=*/!first_micro_step_);
  for (size_t b = 0; b < layout_.buckets.size(); ++b) {
    const FlatBucket& bucket = layout_.buckets[b];
    pending_.push_back(start_reduction(comm_, staging_.narrow(0, bucket.offset, bucket.numel), shard_grad(int(b)),
                                       /*whole_bucket=*/false, /*accumulate=*/!first_micro_step_, options_));
    if (!options_.overlap_comm) {
      finish_reduction(pending_.back(), options_, comm_.size());
      pending_.pop_back();
    }
  }
  staging_ = at::Tensor();  // the pending reductions hold it until finish_reductions()
  release();
  schedule_.on_reduction_started(this);
}

void ShardedUnit::zero_unwritten_staging() {
  // Only what no gradient was copied into: bucket padding and parameters that got no gradient
  // (they count as zero), in as few fills as possible.
  if (!staging_.defined()) staging_ = at::empty({layout_.total_numel}, shard_grads_.options());
  int64_t gap_begin = 0;
  auto fill_gap_until = [&](int64_t end) {
    if (end > gap_begin) staging_.narrow(0, gap_begin, end - gap_begin).zero_();
  };
  for (size_t b = 0; b < layout_.buckets.size(); ++b) {
    const FlatBucket& bucket = layout_.buckets[b];
    for (int e = bucket.first_entry; e < bucket.end_entry; ++e) {
      if (seen_[size_t(e)] != 2) continue;
      fill_gap_until(layout_.entries[size_t(e)].offset);
      gap_begin = layout_.entries[size_t(e)].offset + layout_.entries[size_t(e)].numel;
    }
  }
  fill_gap_until(layout_.total_numel);
}

void ShardedUnit::finish_reductions() {
  for (PendingReduction& p : pending_) finish_reduction(p, options_, comm_.size());
  pending_.clear();
}

void ShardedUnit::end_backward() {
  if (!in_backward_) return;
  in_backward_ = false;
  reduce_gradients();
  finish_reductions();
  release();
}

}  // namespace zs
