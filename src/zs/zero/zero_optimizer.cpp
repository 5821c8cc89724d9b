#include "zs/zero/zero_optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include <ATen/ops/full.h>
#include <ATen/ops/maximum.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include "zs/optim/grad_utils.hpp"
#include "zs/optim/host_optimizer.hpp"
#include "zs/zero/state/device_state_store.hpp"
#include "zs/zero/state/host_state_store.hpp"
#include "zs/zero/state/nvme_state_store.hpp"

namespace zs {

ZeroOptimizer::ZeroOptimizer(std::vector<ParamGroup*> groups, Communicator& comm, StagePolicy policy,
                             std::unique_ptr<Optimizer> optimizer, std::vector<double> group_weight_decay,
                             int64_t allgather_elements, const OffloadConfig& offload,
                             std::unique_ptr<Optimizer> device_optimizer, bool split_by_units)
    : groups_(std::move(groups)),
      comm_(comm),
      policy_(policy),
      allgather_elements_(allgather_elements),
      offload_(offload.enabled()),
      split_by_units_(split_by_units) {
  TORCH_CHECK(!groups_.empty(), "ZeroOptimizer: no parameter groups");
  device_options_ = groups_.front()->tensor_options().dtype(at::kFloat);
  const c10::Device device = device_options_.device();
  separate_master_ = groups_.front()->tensor_options().dtype() != at::kFloat || offload_;
  for (ParamGroup* g : groups_)
    if (g->partitioned()) units_.push_back(g);

  // The stores: optimizer offload puts every slot's state in host memory (or files), except the
  // device's share of a ratio below 1; without offload it stays beside the parameters.
  const bool cpu_offload = offload_ && offload.device == "cpu";
  if (offload_) {
    TORCH_CHECK(offload.device == "cpu" || offload.device == "nvme", "ZeroOptimizer: offload_optimizer.device \"",
                offload.device, "\" is not handled here");
    TORCH_CHECK(policy_.shard_optimizer, "ZeroOptimizer: optimizer offload needs ZeRO stage 1, 2 or 3");
    auto* host = dynamic_cast<HostOptimizer*>(optimizer.get());
    TORCH_CHECK(host, "ZeroOptimizer: optimizer offload needs a host optimizer (make_host_optimizer), got ",
                optimizer->name());
    std::unique_ptr<HostOptimizer> host_optimizer(host);
    optimizer.release();
    if (cpu_offload) stores_.push_back(std::make_unique<HostStateStore>(std::move(host_optimizer), device, offload));
    else stores_.push_back(std::make_unique<NvmeStateStore>(std::move(host_optimizer), device, offload, comm_.rank()));
  } else {
    stores_.push_back(std::make_unique<DeviceStateStore>(std::move(optimizer), device, separate_master_));
  }
  TORCH_CHECK(!device_optimizer || (cpu_offload && offload.ratio < 1.0),
              "ZeroOptimizer: a device optimizer beside the host one needs offload_optimizer device \"cpu\" with a "
              "ratio below 1 (got device \"", offload.device, "\", ratio ", offload.ratio, ")");
  TORCH_CHECK(!cpu_offload || offload.ratio >= 1.0 || device_optimizer,
              "ZeroOptimizer: offload_optimizer.ratio ", offload.ratio, " needs a device optimizer for the rest");
  if (device_optimizer) {
    stores_.push_back(std::make_unique<DeviceStateStore>(std::move(device_optimizer), device, /*separate_master=*/true));
    device_share_ = stores_.back().get();
  }

  const std::vector<bool> keep_on_device = plan_device_slots(device_share_ ? offload.ratio : 1.0);
  for (ParamGroup* g : groups_) {
    // A shard in a file is brought in while its slots are made (the masters copy it).
    shards_in_files_ = shards_in_files_ || g->shard_in_file();
    TORCH_CHECK(!g->shard_in_file() || offload_,
                "ZeroOptimizer: parameter shards on NVMe need optimizer offload (the CPU step writes them)");
    g->open_shard(/*read=*/true);
    for (size_t b = 0; b < g->layout().buckets.size(); ++b) {
      OwnedSlot slot;
      slot.layout = &g->layout();
      slot.params = &g->params();
      slot.bucket = int(b);
      slot.own_begin = g->own_begin(int(b));
      slot.own = g->own(int(b));
      slot.group = g;
      const int index = int(slots_.size());
      StateStore& store = keep_on_device[size_t(index)] ? *device_share_ : *stores_.front();
      store.attach(slot, index, group_weight_decay.at(g->layout().buckets[b].group));
      slots_.push_back(std::move(slot));
      slot_store_.push_back(&store);
    }
    g->close_shard(/*write=*/false);
  }
  // NVMe: every slot's master and zero state go to the files now.
  for (auto& store : stores_) store->attached(slots_, shard_access(/*read=*/true, /*write=*/false));
  close_shards(/*write=*/false);

  // Optimizer offload (CPU or NVMe) at stage 3 with shards in memory: the units' slots are updated
  // while the next forward runs, and a unit's gather waits only for its own. With super_offload a
  // unit's slots go to that update as soon as backward has reduced its gradient
  // (begin_step_in_backward), the units nearest the forward's start first.
  if (offload_ && !units_.empty() && !shards_in_files_) {
    super_offload_ = offload.super_offload;
    slot_first_unit_.assign(slots_.size(), -1);
    StateStore* host = stores_.front().get();
    for (size_t u = 0; u < units_.size(); ++u) {
      std::vector<int> own_slots;  // the unit's slots the CPU updates
      for (int i : host->slots())
        if (slots_[size_t(i)].group == units_[u]) {
          own_slots.push_back(i);
          slot_first_unit_[size_t(i)] = int(u);
        }
      units_[u]->set_before_gather([this, host, own_slots] {
        // In a backward whose step has begun, a unit is gathered before its gradient is reduced,
        // so before its slots are handed over: nothing of this step has touched its shard yet.
        if (step_in_backward_) return;
        for (int s : own_slots) host->wait(s);
      });
      if (!super_offload_) continue;
      units_[u]->set_after_reduced([this, host, own_slots, u] {
        if (step_in_backward_) host->submit(own_slots, int(u));
      });
    }
  }
}

SlotAccess ZeroOptimizer::shard_access(bool read, bool write) const {
  SlotAccess access;
  if (!shards_in_files_) return access;
  access.open = [this, read](int i) {
    slots_[i].group->open_shard(read);  // a no-op while open, or for shards in memory
  };
  access.close = [this, write](int i) {
    ParamGroup* group = slots_[i].group;
    if (i + 1 == int(slots_.size()) || slots_[i + 1].group != group) group->close_shard(write);
  };
  return access;
}

void ZeroOptimizer::close_shards(bool write) {
  if (!shards_in_files_) return;
  for (ParamGroup* unit : units_) unit->close_shard(write);
}

ZeroOptimizer::~ZeroOptimizer() {
  for (auto& store : stores_) {
    try {
      store->finish();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "[zeroshard] offload: the last optimizer step failed: %s\n", e.what());
    }
  }
}

void ZeroOptimizer::open_stores(const StepScale& scale, bool background, const SlotAccess& access) {
  for (auto& store : stores_) {
    store->optimizer().begin_step();
    store->open(slots_, scale, background && store->can_run_in_background(), access);
  }
}

void ZeroOptimizer::submit(const std::vector<std::pair<std::vector<int>, int>>& batches) {
  for (auto& store : stores_) {
    for (const auto& [order, priority] : batches) {
      std::vector<int> mine;
      for (int i : order)
        if (slot_store_[size_t(i)] == store.get()) mine.push_back(i);
      if (!mine.empty()) store->submit(std::move(mine), priority);
    }
  }
}

void ZeroOptimizer::begin_step_in_backward(double lr) {
  TORCH_CHECK(super_offload_, "ZeroOptimizer: a step begun in backward needs super_offload with units partitioned");
  finish_update();
  c10::NoGradGuard no_grad;
  open_stores(StepScale(lr, std::nullopt), /*background=*/true, SlotAccess());
  step_lr_ = lr;
  step_in_backward_ = true;
}

StepOutcome ZeroOptimizer::finish_step_begun_in_backward(double lr, double loss_scale, bool check_overflow,
                                                         double max_norm) {
  TORCH_CHECK(lr == step_lr_ && loss_scale == 1.0 && !check_overflow && max_norm == 0,
              "ZeroOptimizer: the step begun in backward had learning rate ", step_lr_,
              ", no loss scaling and no clipping; step() asks for lr ", lr, ", loss scale ", loss_scale,
              ", overflow check ", check_overflow, ", max norm ", max_norm);
  step_in_backward_ = false;
  StepOutcome out;
  out.grad_norm = global_sq_norm().sqrt_();  // reported; the update does not need it
  // The slots outside units are read before the first unit runs: first in the CPU's queue, and
  // waited for here, as the step after backward does them before it returns. The device's share
  // is updated meanwhile, beside the copies of the slots just handed over.
  std::vector<int> now;
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slot_first_unit_[i] < 0) now.push_back(int(i));
  submit({{now, /*priority=*/-1}});
  for (auto& store : stores_) store->close();
  for (int i : now) store_of(i).wait(i);
  publish();
  return out;
}

void ZeroOptimizer::finish_update() {
  TORCH_CHECK(!step_in_backward_,
              "the optimizer step of this accumulation window began in its backward "
              "(offload_optimizer.super_offload): call step() before anything else");
  bool running = false;
  for (auto& store : stores_) running = running || store->running();
  if (!running) return;
  for (auto& store : stores_) store->finish();
  if (!awaiting_gather_.empty()) {
    // Units the forward did not run (or no forward at all): their buckets are gathered here, in
    // slot order on every rank.
    for (size_t i = 0; i < slots_.size(); ++i) gather_awaiting(int(i));
    awaiting_gather_.clear();
  }
  zero_grads();  // the update is done reading them
}

void ZeroOptimizer::zero_grads() {
  for (ParamGroup* g : groups_) g->zero_grads();
}

void ZeroOptimizer::overlap_with_units(const std::vector<std::vector<at::Tensor>>& unit_params) {
  if (!offload_ || !units_.empty() || !policy_.gather_after_step || unit_params.empty()) return;
  std::unordered_map<const c10::TensorImpl*, int> unit_of;
  for (size_t u = 0; u < unit_params.size(); ++u)
    for (const at::Tensor& t : unit_params[u]) unit_of[t.unsafeGetTensorImpl()] = int(u);
  unit_slots_.assign(unit_params.size(), {});
  slot_first_unit_.assign(slots_.size(), -1);
  for (int i : stores_.front()->slots()) {  // the offloaded ones (a device share is updated within step())
    const OwnedSlot& slot = slots_[size_t(i)];
    const FlatBucket& bucket = slot.layout->buckets[slot.bucket];
    std::vector<int> units;
    bool only_units = true;
    for (int e = bucket.first_entry; e < bucket.end_entry && only_units; ++e) {
      auto it = unit_of.find((*slot.params)[e].tensor.unsafeGetTensorImpl());
      if (it == unit_of.end()) only_units = false;
      else if (units.empty() || units.back() != it->second) units.push_back(it->second);
    }
    if (!only_units || units.empty()) continue;
    slot_first_unit_[size_t(i)] = *std::min_element(units.begin(), units.end());
    for (int u : units) unit_slots_[size_t(u)].push_back(i);
  }
}

void ZeroOptimizer::gather_awaiting(int slot) {
  if (awaiting_gather_.empty() || !awaiting_gather_[size_t(slot)]) return;
  store_of(slot).wait(slot);
  slots_[size_t(slot)].group->all_gather_bucket(slots_[size_t(slot)].bucket)->wait();
  awaiting_gather_[size_t(slot)] = 0;
}

void ZeroOptimizer::before_unit(int unit) {
  if (awaiting_gather_.empty()) return;
  c10::NoGradGuard no_grad;
  for (int s : unit_slots_.at(size_t(unit))) gather_awaiting(s);
}

std::vector<bool> offload_ratio_split(const std::vector<int64_t>& sizes, double ratio, bool from_front) {
  int64_t total = 0;
  for (int64_t n : sizes) total += n;
  std::vector<bool> on_host(sizes.size(), ratio >= 1.0);
  if (ratio >= 1.0) return on_host;
  const double target = ratio * double(total);
  int64_t taken = 0;
  for (size_t j = 0; j < sizes.size(); ++j) {
    const size_t k = from_front ? j : sizes.size() - 1 - j;
    if (double(taken) + 0.5 * double(sizes[k]) > target) break;
    taken += sizes[k];
    on_host[k] = true;
  }
  return on_host;
}

std::vector<bool> ZeroOptimizer::plan_device_slots(double ratio) const {
  // The CPU takes the slots the next forward reaches last, so that their update overlaps the
  // forward of the others (stage 3, overlap_step): at stage 3 the last slots (the units, in
  // forward order), at stages 1-2 the first (the gathered layout is in reverse registration
  // order: the last layers first). The share follows slot boundaries (units, or
  // reduce_bucket_size buckets), so it is approximate; the summary line gives the real one.
  std::vector<int64_t> sizes;         // each slot's elements (own()'s size, read from the layout)
  std::vector<const ParamGroup*> of;  // each slot's group
  for (ParamGroup* g : groups_) {
    for (const FlatBucket& bucket : g->layout().buckets) {
      sizes.push_back(g->partitioned() || policy_.shard_optimizer ? bucket.chunk : bucket.numel);
      of.push_back(g);
    }
  }
  std::vector<bool> keep(sizes.size(), ratio < 1.0);
  if (ratio >= 1.0) return keep;
  // offload_param: the engine split whole units with the same rule, and the CPU writes their
  // shards in host memory; every other slot stays on the device (all of them when no unit went).
  if (split_by_units_) {
    for (size_t k = 0; k < sizes.size(); ++k) keep[k] = !(of[k]->partitioned() && of[k]->shard_on_host());
    return keep;
  }
  const std::vector<bool> on_host = offload_ratio_split(sizes, ratio, /*from_front=*/units_.empty());
  for (size_t k = 0; k < sizes.size(); ++k) keep[k] = !on_host[k];
  return keep;
}

std::vector<Optimizer*> ZeroOptimizer::optimizers() {
  std::vector<Optimizer*> all;
  for (auto& store : stores_) all.push_back(&store->optimizer());
  return all;
}

std::vector<at::Tensor> ZeroOptimizer::masters_of(const ParamGroup& group) const {
  std::vector<at::Tensor> masters;
  for (const OwnedSlot& slot : slots_)
    if (slot.group == &group) masters.push_back(slot.master);
  return masters;
}

SlotStateRange ZeroOptimizer::slot_state(int slot, int64_t begin, int64_t numel) {
  return store_of(slot).state(slots_.at(size_t(slot)), slot, begin, numel);
}

at::Tensor ZeroOptimizer::global_sq_norm() {
  std::vector<at::Tensor> grads;
  for (const OwnedSlot& slot : slots_) grads.push_back(slot.grad().reshape({-1}));
  at::Tensor total = grads.empty() ? at::zeros({}, device_options_) : squared_norm(grads).to(device_options_.device());
  // Stage 0: every rank holds the same full gradient; otherwise sum the shards' parts.
  if (policy_.shard_optimizer) comm_.all_reduce(total, ReduceOp::sum)->wait();
  return total;
}

bool ZeroOptimizer::any_overflow() {
  at::Tensor any = at::zeros({}, device_options_);
  for (const OwnedSlot& slot : slots_) any = at::maximum(any, has_inf_or_nan(slot.grad()));
  // Every rank must agree, or they would take different paths (and collectives) from here.
  comm_.all_reduce(any, ReduceOp::max)->wait();
  return any.item<double>() > 0;
}

StepOutcome ZeroOptimizer::step(double lr, double loss_scale, bool check_overflow, double max_norm) {
  c10::NoGradGuard no_grad;
  if (step_in_backward_) return finish_step_begun_in_backward(lr, loss_scale, check_overflow, max_norm);
  finish_update();
  StepOutcome out;
  if (check_overflow && any_overflow()) {
    out.skipped = true;
    out.grad_norm = at::full({}, INFINITY, device_options_);
    zero_grads();
    return out;
  }
  // Unscale and clip in one divisor, computed on the device: no wait for the host here (a CPU
  // update reads it once).
  out.grad_norm = global_sq_norm().sqrt_().div_(loss_scale);
  std::optional<at::Tensor> divisor;
  if (max_norm > 0)
    divisor = out.grad_norm.add(1e-6).div_(max_norm).clamp_min_(1.0).mul_(loss_scale);
  else if (loss_scale != 1.0)
    divisor = at::full({}, loss_scale, out.grad_norm.options());

  // The slots updated before step() returns (now), and those the CPU updates while the next
  // forward runs (later), in the order the units run: at stage 3 a unit's gather waits for its
  // own, at stages 1-2 its hook waits and all-gathers them (before_unit); the gradients they read
  // go in finish_update(). The slots outside units are used before the first unit runs: first.
  std::vector<int> now, later;
  for (size_t i = 0; i < slots_.size(); ++i)
    (!slot_first_unit_.empty() && slot_first_unit_[i] >= 0 ? later : now).push_back(int(i));
  std::stable_sort(later.begin(), later.end(), [this](int a, int b) { return slot_first_unit_[a] < slot_first_unit_[b]; });
  // The CPU updates on a thread of its own when that overlaps the next forward, or the device's
  // update of its share (offload_optimizer.ratio). Unit shards in files are not read first: the
  // update fills them completely.
  const bool background = !slot_first_unit_.empty() || device_share_;
  open_stores(StepScale(lr, divisor), background, shard_access(/*read=*/false, /*write=*/true));
  submit({{now, /*priority=*/-1}, {later, /*priority=*/0}});
  for (auto& store : stores_) store->close();
  if (later.empty()) {
    for (auto& store : stores_) store->finish();
    close_shards(/*write=*/true);
    zero_grads();
  } else {
    for (int i : now) store_of(i).wait(i);
    if (units_.empty()) {
      awaiting_gather_.assign(slots_.size(), 0);
      for (int i : later) awaiting_gather_[size_t(i)] = 1;
    }
  }
  publish();  // the stores wrote the new values into the shards already
  return out;
}

void ZeroOptimizer::publish_parameters() {
  c10::NoGradGuard no_grad;
  const SlotAccess access = shard_access(/*read=*/false, /*write=*/true);
  for (auto& store : stores_) store->copy_masters(slots_, access);
  close_shards(/*write=*/true);
  publish();
}

std::string ZeroOptimizer::offload_summary() const {
  if (!offload_) return std::string();
  if (!device_share_) return stores_.front()->describe();
  int64_t on_device = 0, total = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    total += slots_[i].own.numel();
    if (slot_store_[i] == device_share_) on_device += slots_[i].own.numel();
  }
  int units_on_host = 0;
  for (const ParamGroup* unit : units_) units_on_host += unit->shard_on_host() ? 1 : 0;
  const std::string params = units_on_host ? ", with the parameter shards of " + std::to_string(units_on_host) + " of " +
                                                 std::to_string(units_.size()) + " units"
                                           : "";
  char share[256];
  std::snprintf(share, sizeof(share), " | ratio: %.1f%% of the elements (%zu of %zu slots%s) on the CPU, the rest on the device (%s)",
                total ? 100.0 * double(total - on_device) / double(total) : 0.0,
                slots_.size() - device_share_->slots().size(), slots_.size(), params.c_str(),
                device_share_->optimizer().name().c_str());
  return stores_.front()->describe() + share;
}

void ZeroOptimizer::publish() {
  c10::NoGradGuard no_grad;
  // Every rank has written its updated values into its own part of each bucket; for gathered
  // buckets the all-gather fills in the other ranks' parts in place (no temporary copies). Gathers
  // run in groups of about allgather_bucket_size elements; a group starts once the previous one
  // is done.
  if (!policy_.gather_after_step) return;
  std::vector<WorkHandle> works;
  int64_t in_flight = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const OwnedSlot& slot = slots_[i];
    if (slot.group->partitioned()) continue;
    if (!awaiting_gather_.empty() && awaiting_gather_[i]) continue;  // gathered once its update lands
    const int64_t numel = slot.layout->buckets[slot.bucket].numel;
    if (in_flight > 0 && in_flight + numel > allgather_elements_) {
      for (auto& w : works) w->wait();
      works.clear();
      in_flight = 0;
    }
    works.push_back(slot.group->all_gather_bucket(slot.bucket));
    in_flight += numel;
  }
  for (auto& w : works) w->wait();
}

}  // namespace zs
