// ParamGroup: construction and the values side (shard placement, gather, release).
// The gradient side is in param_group_grads.cpp.
#include "zs/zero/param_group.hpp"

#include <cstdio>
#include <cstdlib>

#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/GradMode.h>

#include "zs/base/grad_place.hpp"
#include "zs/io/host_memory.hpp"
#include "zs/zero/grad_ready_hook.hpp"
#include "zs/zero/param_swapper.hpp"
#include "zs/zero/storage.hpp"
#include "zs/zero/unit_codec.hpp"

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
}  // namespace

#define ZS_GROUP_TRACE(what)                                                                         \
  do {                                                                                               \
    if (trace_units()) {                                                                             \
      std::fprintf(stderr, "[unit trace] rank %d %s: %s\n", comm_.rank(), name_.c_str(), what);     \
      std::fflush(stderr);                                                                           \
    }                                                                                                \
  } while (0)

FlatLayout make_unit_layout(const std::vector<NamedParam>& params, const std::vector<int>& groups, int world) {
  std::vector<int64_t> numels;
  for (const auto& p : params) numels.push_back(p.tensor.numel());
  return make_flat_layout(numels, groups, world, /*bucket_elements=*/INT64_MAX / 4);
}

ParamGroup::ParamGroup(std::string name, std::vector<NamedParam> params, FlatLayout layout, Communicator& comm,
                       ReductionQueue& reductions, ParamGroupOptions options, at::TensorOptions tensor_options,
                       const MetaInit& meta_init)
    : name_(std::move(name)),
      params_(std::move(params)),
      layout_(std::move(layout)),
      comm_(comm),
      reductions_(reductions),
      options_(std::move(options)),
      nvme_(options_.placement.nvme) {
  TORCH_CHECK(params_.size() == layout_.entries.size(), "ParamGroup ", name_, ": layout does not match the parameters");
  TORCH_CHECK(options_.grad_buffer || options_.shard_optimizer, "ParamGroup ", name_,
              ": staged gradients are reduce-scattered, so the optimizer must be sharded");
  TORCH_CHECK(!options_.partitioned || !options_.grad_buffer, "ParamGroup ", name_,
              ": a partitioned group stages its gradients (it has no full gradient buffer)");
  c10::NoGradGuard no_grad;
  // Zeros: the padding between parameters and at bucket ends must stay zero in every buffer.
  full_ = at::zeros({layout_.total_numel}, tensor_options.requires_grad(false));
  lay_out_values(meta_init);
  if (options_.grad_buffer) {
    grad_buffer_ = at::zeros({layout_.total_numel}, full_.options());
    for (size_t i = 0; i < params_.size(); ++i) {
      const FlatEntry& e = layout_.entries[i];
      grad_views_.push_back(grad_buffer_.narrow(0, e.offset, e.numel).view(params_[i].tensor.sizes()));
    }
  } else {
    // Reduced gradients exist only from a window's first reduction to the step (zero_grads), so
    // they take no memory while activations peak at the start of backward.
    shard_grads_ = at::empty({layout_.shard_numel}, full_.options().dtype(options_.shard_grad_dtype.value_or(full_.scalar_type())));
    free_storage(shard_grads_);
  }
  staging_.resize(layout_.buckets.size());
  direct_.resize(layout_.buckets.size());
  if (options_.partitioned) make_shard(options_.placement);
  alias_parameters();
  for (size_t i = 0; i < params_.size(); ++i) {
    set_grad_ready_hook(params_[i].tensor, [this, i] { on_grad_ready(int(i)); });
    if (!options_.grad_buffer) offer_grad_place(params_[i].tensor, [this, i] { return grad_place(int(i)); });
  }
  if (options_.grad_buffer) attach_grads();
  state_ = State::gathered;
  if (options_.partitioned) release();
}

ParamGroup::~ParamGroup() {
  for (const auto& p : params_) {
    clear_grad_ready_hook(p.tensor);
    withdraw_grad_place(p.tensor);
  }
  if (state_ == State::reading) (void)read_.wait_for_error();  // the buffer must not be written after we go
}

void ParamGroup::lay_out_values(const MetaInit& meta_init) {
  // Rank 0's values win: every rank starts from the same weights.
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& p = params_[i].tensor;
    at::Tensor place = full_.narrow(0, layout_.entries[i].offset, layout_.entries[i].numel).view(p.sizes());
    if (p.is_meta()) {
      TORCH_CHECK(meta_init, "parameter ", params_[i].name,
                  " is on the meta device and no initializer was given (EngineOptions::meta_init)");
      at::Tensor value = at::empty(p.sizes(), full_.options());
      meta_init(params_[i].name, value);
      place.copy_(value);
    } else {
      place.copy_(p.detach());
    }
  }
  if (comm_.size() > 1) comm_.broadcast(full_, 0)->wait();
}

void ParamGroup::make_shard(const ShardPlacement& placement) {
  if (nvme_) {
    // The shard goes to its file through a pool buffer; its own storage stays empty.
    shard_ = at::empty({layout_.shard_numel}, full_.options().device(at::kCPU));
    bind_shard(nullptr);
    open_shard(/*read=*/false);
  } else {
    const bool host = placement.on_host && !full_.device().is_cpu();
    shard_ = host ? empty_host(layout_.shard_numel, full_.scalar_type(), placement.pin_memory)
                  : at::empty({layout_.shard_numel}, full_.options());
  }
  for (size_t b = 0; b < layout_.buckets.size(); ++b)
    own(int(b)).copy_(full_.narrow(0, own_begin(int(b)), layout_.buckets[b].chunk));
  close_shard(/*write=*/true);
}

void ParamGroup::alias_parameters() {
  // Each parameter becomes a tensor on the full buffer's storage, but not an autograd view of it.
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].tensor;
    at::Tensor alias = at::empty({0}, full_.options());
    alias.set_(full_.storage(), full_.storage_offset() + layout_.entries[i].offset, {layout_.entries[i].numel}, {1});
    replace_data(p, alias.view(p.sizes()));
  }
}

at::Tensor ParamGroup::own(int b) const {
  const FlatBucket& bucket = layout_.buckets[b];
  if (options_.partitioned) return shard_.narrow(0, bucket.shard_offset, bucket.chunk);
  return options_.shard_optimizer ? full_.narrow(0, own_begin(b), bucket.chunk) : full_.narrow(0, bucket.offset, bucket.numel);
}

int64_t ParamGroup::resident_bytes() const {
  int64_t bytes = int64_t(full_.storage().nbytes());
  if (shard_.defined()) bytes += int64_t(shard_.storage().nbytes());
  if (secondary_.defined()) bytes += int64_t(secondary_.storage().nbytes());
  return bytes;
}

int64_t ParamGroup::own_begin(int b) const {
  return options_.shard_optimizer ? layout_.chunk_offset(b, comm_.rank()) : layout_.buckets[b].offset;
}

WorkHandle ParamGroup::all_gather_bucket(int b) {
  const FlatBucket& bucket = layout_.buckets[b];
  return comm_.all_gather(full_.narrow(0, bucket.offset, bucket.numel), full_.narrow(0, own_begin(b), bucket.chunk));
}

void ParamGroup::bind_shard(void* data) {
  c10::Storage storage = shard_.storage();
  storage.set_data_ptr_noswap(at::DataPtr(data, at::Device(at::kCPU)));  // not owned: the pool's buffer
  storage.set_nbytes(data ? size_t(layout_.shard_numel) * shard_.element_size() : 0);
}

void ParamGroup::open_shard(bool read) {
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

void ParamGroup::close_shard(bool write) {
  if (!nvme_ || open_buffer_ < 0) return;
  bind_shard(nullptr);
  const int b = open_buffer_;
  open_buffer_ = -1;
  if (write) nvme_->write_and_release(name_, b, layout_.shard_numel);
  else nvme_->release(b);
}

void ParamGroup::gather_from_masters(std::vector<at::Tensor> masters) {
  TORCH_CHECK(options_.partitioned, "ParamGroup ", name_, ": only a partitioned group gathers from its masters");
  TORCH_CHECK(masters.size() == layout_.buckets.size(), "ParamGroup ", name_, ": ", masters.size(), " masters for ",
              layout_.buckets.size(), " buckets");
  TORCH_CHECK(!nvme_ && shard_.device() == full_.device(), "ParamGroup ", name_,
              ": only a shard on the device can be replaced by its masters");
  for (size_t b = 0; b < masters.size(); ++b)
    TORCH_CHECK(masters[b].numel() == layout_.buckets[b].chunk && masters[b].device() == full_.device(), "ParamGroup ",
                name_, ": master ", b, " does not match its chunk");
  masters_ = std::move(masters);
  free_storage(shard_);
}

void ParamGroup::start_gather() { begin_gather(/*prefetch=*/true); }

void ParamGroup::begin_gather(bool prefetch, bool exact) {
  if (state_ != State::released) return;
  if (before_gather_) before_gather_();
  exact_gather_ = exact;
  if (secondary_valid_ && !exact) {
    // hpZ: the values this unit's last gather from the primary shards gave, within the node group.
    ZS_GROUP_TRACE(prefetch ? "start gather from the secondary partition (prefetch)"
                            : "start gather from the secondary partition");
    allocate_storage(full_);
    launch_secondary_gather();
    return;
  }
  if (nvme_) {
    TORCH_CHECK(open_buffer_ < 0, "offload_param nvme: unit ", name_, " gathered while its shard is open");
    // A prefetch leaves one buffer for the gather that cannot wait; without a spare one the unit
    // is gathered when it runs.
    const int b = nvme_->acquire(prefetch ? 1 : 0);
    if (b < 0 && prefetch) return;
    TORCH_CHECK(b >= 0, "offload_param nvme: no free buffer to gather unit ", name_, " (all ", nvme_->buffer_count(),
                " are in use)");
    ZS_GROUP_TRACE(prefetch ? "start read (prefetch)" : "start read");
    allocate_storage(full_);
    read_buffer_ = b;
    read_ = nvme_->read(name_, b, layout_.shard_numel);
    state_ = State::reading;
    return;
  }
  ZS_GROUP_TRACE("start gather");
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
  if (shard_.device() == full_.device()) return launch_gather(shard_);
  // An offloaded shard comes up on a copy stream of its own (shard_upload.hpp). With one rank
  // the "gather" is a copy, so it waits until the unit is needed and the upload overlaps what runs
  // until then; with more, the collective is launched now, after the upload, so that it overlaps.
  upload_ = upload_shard(shard_, full_.device());
  state_ = State::uploading;
  if (comm_.size() > 1) launch_gather(upload_->wait());
}

void ParamGroup::launch_gather(const at::Tensor& source) {
  for (size_t b = 0; b < layout_.buckets.size(); ++b) {
    const FlatBucket& bucket = layout_.buckets[b];
    const at::Tensor mine = source.defined() ? source.narrow(0, bucket.shard_offset, bucket.chunk)
                                             : full_.narrow(0, own_begin(int(b)), bucket.chunk);  // in place
    const at::Tensor out = full_.narrow(0, bucket.offset, bucket.numel);
    gather_works_.push_back(options_.codec && !exact_gather_ ? options_.codec->all_gather(comm_, out, mine)
                                                             : comm_.all_gather(out, mine));
  }
  state_ = State::gathering;
}

bool ParamGroup::has_secondary() const { return options_.codec && options_.codec->secondary_size() > 1; }

// hpZ: bucket b's secondary part is its numel / g elements at local rank l's place; the parts of
// all buckets lie one after another (bucket offsets are multiples of the world size, so of g).
void ParamGroup::launch_secondary_gather() {
  Communicator& group = options_.codec->secondary_comm();
  const int64_t g = options_.codec->secondary_size();
  for (const FlatBucket& bucket : layout_.buckets)
    gather_works_.push_back(group.all_gather(full_.narrow(0, bucket.offset, bucket.numel),
                                             secondary_.narrow(0, bucket.offset / g, bucket.numel / g)));
  state_ = State::gathering;
}

void ParamGroup::fill_secondary() {
  c10::NoGradGuard no_grad;
  const int64_t g = options_.codec->secondary_size(), l = options_.codec->secondary_rank();
  if (!secondary_.defined())
    secondary_ = at::empty({layout_.total_numel / g}, full_.options());
  else if (!has_storage(secondary_))
    allocate_storage(secondary_);
  for (const FlatBucket& bucket : layout_.buckets) {
    const int64_t part = bucket.numel / g;
    secondary_.narrow(0, bucket.offset / g, part).copy_(full_.narrow(0, bucket.offset + l * part, part));
  }
  secondary_valid_ = true;
  ZS_GROUP_TRACE("secondary partition filled");
}

void ParamGroup::drop_secondary() {
  if (!secondary_.defined()) return;
  secondary_valid_ = false;
  free_storage(secondary_);
}

void ParamGroup::gather() {
  begin_gather(/*prefetch=*/false);
  finish_gather();
}

void ParamGroup::finish_gather() {
  if (state_ == State::reading) {
    // The collective starts once the shard has landed: here, in program order on every rank.
    read_.wait();
    read_ = SwapHandle();
    const at::Tensor host = nvme_->view(read_buffer_, layout_.shard_numel);
    launch_gather(full_.device().is_cpu() ? host : host.to(full_.device()));
  }
  if (state_ == State::uploading) launch_gather(upload_->wait());
  if (state_ == State::gathering) {
    for (auto& w : gather_works_) w->wait();
    gather_works_.clear();
    upload_.reset();  // the collectives are done with it
    if (read_buffer_ >= 0) {
      nvme_->release(read_buffer_);  // the collectives are done with it
      read_buffer_ = -1;
    }
    state_ = State::gathered;
    ZS_GROUP_TRACE("gathered");
    if (has_secondary() && !secondary_valid_ && !exact_gather_) fill_secondary();
  }
}

void ParamGroup::set_pinned(bool pinned) {
  pinned_ = pinned;
  if (pinned_) {
    begin_gather(/*prefetch=*/false, /*exact=*/true);
    finish_gather();
  } else {
    release();
  }
}

void ParamGroup::release() {
  if (!options_.partitioned || state_ == State::released || pinned_) return;
  if (state_ == State::reading) {
    // A prefetched read that nobody used: no collective was launched, none is needed.
    (void)read_.wait_for_error();
    read_ = SwapHandle();
    nvme_->release(read_buffer_);
    read_buffer_ = -1;
  } else {
    gather();  // a prefetch still in flight must land before its buffer goes away
  }
  ZS_GROUP_TRACE("release");
  free_storage(full_);
  state_ = State::released;
}

}  // namespace zs
