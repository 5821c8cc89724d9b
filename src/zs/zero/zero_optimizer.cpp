#include "zs/zero/zero_optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/maximum.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include "zs/optim/grad_utils.hpp"
#include "zs/optim/host_optimizer.hpp"
#include "zs/zero/nvme_offload.hpp"
#include "zs/zero/offloaded_step.hpp"

namespace zs {

namespace {
// fp32 gradient scratch the step may hold at once (elements): 256 MiB, or one bucket if larger.
constexpr int64_t kStepScratchElements = 64 << 20;
}  // namespace

ZeroOptimizer::ZeroOptimizer(std::vector<ParamGroup*> groups, Communicator& comm, StagePolicy policy,
                             std::unique_ptr<Optimizer> optimizer, std::vector<double> group_weight_decay,
                             int64_t allgather_elements, const OffloadConfig& offload,
                             std::unique_ptr<Optimizer> device_optimizer, bool split_by_units)
    : groups_(std::move(groups)),
      comm_(comm),
      policy_(policy),
      optimizer_(std::move(optimizer)),
      allgather_elements_(allgather_elements),
      device_optimizer_(std::move(device_optimizer)),
      split_by_units_(split_by_units) {
  TORCH_CHECK(!groups_.empty(), "ZeroOptimizer: no parameter groups");
  device_options_ = groups_.front()->tensor_options().dtype(at::kFloat);
  separate_master_ = groups_.front()->tensor_options().dtype() != at::kFloat || offload.enabled();
  for (ParamGroup* g : groups_)
    if (g->partitioned()) units_.push_back(g);
  if (offload.enabled()) {
    TORCH_CHECK(offload.device == "cpu" || offload.device == "nvme", "ZeroOptimizer: offload_optimizer.device \"",
                offload.device, "\" is not handled here");
    TORCH_CHECK(policy_.shard_optimizer, "ZeroOptimizer: optimizer offload needs ZeRO stage 1, 2 or 3");
    host_optimizer_ = dynamic_cast<HostOptimizer*>(optimizer_.get());
    TORCH_CHECK(host_optimizer_, "ZeroOptimizer: optimizer offload needs a host optimizer (make_host_optimizer), got ",
                optimizer_->name());
    const c10::Device device = device_options_.device();
    if (offload.device == "nvme") nvme_ = std::make_unique<NvmeOffload>(*host_optimizer_, device, offload, comm_.rank());
    else offloaded_ = std::make_unique<OffloadedStep>(*host_optimizer_, device, offload);
  }
  TORCH_CHECK(!device_optimizer_ || (offloaded_ && offload.ratio < 1.0),
              "ZeroOptimizer: a device optimizer beside the host one needs offload_optimizer device \"cpu\" with a "
              "ratio below 1 (got device \"", offload.device, "\", ratio ", offload.ratio, ")");
  TORCH_CHECK(!offloaded_ || offload.ratio >= 1.0 || device_optimizer_,
              "ZeroOptimizer: offload_optimizer.ratio ", offload.ratio, " needs a device optimizer for the rest");
  const std::vector<bool> keep_on_device = plan_device_slots(device_optimizer_ ? offload.ratio : 1.0);
  size_t slot_number = 0;
  for (ParamGroup* g : groups_) {
    // A shard in a file is brought in while its slots are made (the CPU masters copy it).
    shards_in_files_ = shards_in_files_ || g->shard_in_file();
    TORCH_CHECK(!g->shard_in_file() || offload.enabled(),
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
      add_slot(std::move(slot), group_weight_decay.at(g->layout().buckets[b].group), keep_on_device[slot_number++]);
    }
    g->close_shard(/*write=*/false);
  }
  // 16-bit units with their masters on the device gather from the masters; their 16-bit shards go.
  if (separate_master_ && !offloaded_ && !nvme_) {
    for (ParamGroup* unit : units_) {
      std::vector<at::Tensor> masters;
      for (const OwnedSlot& slot : slots_)
        if (slot.group == unit) masters.push_back(slot.master);
      unit->gather_from_masters(std::move(masters));
    }
  }
  const at::ScalarType param_dtype = groups_.front()->tensor_options().dtype().toScalarType();
  param16_ = param_dtype == at::kBFloat16 || param_dtype == at::kHalf;
  // CPU offload at stage 3 with shards in memory: the units' slots are updated while the next
  // forward runs, and a unit's gather waits only for its own (OffloadedStep::start).
  // With super_offload a unit's slots go to that update as soon as backward has reduced its
  // gradient (begin_step_in_backward), the units nearest the forward's start first.
  if (offloaded_ && !units_.empty() && !shards_in_files_) {
    super_offload_ = offload.super_offload;
    slot_first_unit_.assign(slots_.size(), -1);
    for (size_t u = 0; u < units_.size(); ++u) {
      std::vector<int> own_slots;  // the unit's slots the CPU updates
      for (size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].group == units_[u] && !on_device(int(i))) {
          own_slots.push_back(int(i));
          slot_first_unit_[i] = int(u);
        }
      units_[u]->set_before_gather([this, own_slots] {
        // In a backward whose step has begun, a unit is gathered before its gradient is reduced,
        // so before its slots are handed over: nothing of this step has touched its shard yet.
        if (step_in_backward_) return;
        for (int s : own_slots) offloaded_->wait_slot(s);
      });
      if (!super_offload_) continue;
      units_[u]->set_after_reduced([this, own_slots, u] {
        if (!step_in_backward_) return;
        std::vector<at::Tensor> grads(slots_.size());
        for (int s : own_slots) grads[size_t(s)] = grad(slots_[size_t(s)]);
        offloaded_->submit(own_slots, std::move(grads), int(u));
      });
    }
  }
  // NVMe: every slot's master and zero state go to the files now (masters stay undefined).
  if (nvme_) {
    nvme_->start(slots_, slot_weight_decays_, shard_access(/*read=*/true, /*write=*/false));
    close_shards(/*write=*/false);
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
  if (!offloaded_) return;
  try {
    offloaded_->finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[zeroshard] offload: the last optimizer step failed: %s\n", e.what());
  }
}

void ZeroOptimizer::begin_step_in_backward(double lr) {
  TORCH_CHECK(super_offload_, "ZeroOptimizer: a step begun in backward needs super_offload with units partitioned");
  finish_update();
  c10::NoGradGuard no_grad;
  optimizer_->begin_step();
  if (device_optimizer_) device_optimizer_->begin_step();
  offloaded_->open(slots_, lr, /*grad_divisor=*/1.0);
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
  // The slots outside units are read before the first unit runs: first in the queue, and waited
  // for here, as the step after backward does them before it returns.
  std::vector<int> now;
  std::vector<at::Tensor> grads(slots_.size());
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slot_first_unit_[i] < 0 && !on_device(int(i))) {
      now.push_back(int(i));
      grads[i] = grad(slots_[i]);
    }
  offloaded_->submit(now, std::move(grads), /*priority=*/-1);
  offloaded_->close();
  update_device_share(step_lr_, std::nullopt);  // beside the copies of the slots just handed over
  for (int i : now) offloaded_->wait_slot(i);
  publish(/*copy_masters=*/false);
  return out;
}

void ZeroOptimizer::finish_update() {
  TORCH_CHECK(!step_in_backward_,
              "the optimizer step of this accumulation window began in its backward "
              "(offload_optimizer.super_offload): call step() before anything else");
  if (!offloaded_ || !offloaded_->running()) return;
  offloaded_->finish();
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
  if (!offloaded_ || !units_.empty() || !policy_.gather_after_step || unit_params.empty()) return;
  std::unordered_map<const c10::TensorImpl*, int> unit_of;
  for (size_t u = 0; u < unit_params.size(); ++u)
    for (const at::Tensor& t : unit_params[u]) unit_of[t.unsafeGetTensorImpl()] = int(u);
  unit_slots_.assign(unit_params.size(), {});
  slot_first_unit_.assign(slots_.size(), -1);
  for (size_t i = 0; i < slots_.size(); ++i) {
    const FlatBucket& bucket = slots_[i].layout->buckets[slots_[i].bucket];
    std::vector<int> units;
    bool only_units = true;
    for (int e = bucket.first_entry; e < bucket.end_entry && only_units; ++e) {
      auto it = unit_of.find((*slots_[i].params)[e].tensor.unsafeGetTensorImpl());
      if (it == unit_of.end()) only_units = false;
      else if (units.empty() || units.back() != it->second) units.push_back(it->second);
    }
    if (!only_units || units.empty()) continue;
    slot_first_unit_[i] = *std::min_element(units.begin(), units.end());
    for (int u : units) unit_slots_[size_t(u)].push_back(int(i));
  }
}

void ZeroOptimizer::gather_awaiting(int slot) {
  if (awaiting_gather_.empty() || !awaiting_gather_[size_t(slot)]) return;
  offloaded_->wait_slot(slot);
  slots_[size_t(slot)].group->all_gather_bucket(slots_[size_t(slot)].bucket)->wait();
  awaiting_gather_[size_t(slot)] = 0;
}

void ZeroOptimizer::before_unit(int unit) {
  if (awaiting_gather_.empty()) return;
  c10::NoGradGuard no_grad;
  for (int s : unit_slots_.at(size_t(unit))) gather_awaiting(s);
}

void ZeroOptimizer::add_slot(OwnedSlot slot, double weight_decay, bool keep_on_device) {
  c10::NoGradGuard no_grad;
  // fp32 training updates the parameter values in place; 16-bit keeps an fp32 copy; offload
  // keeps it in host memory.
  if (nvme_) {
    slot_weight_decays_.push_back(weight_decay);
    slots_.push_back(std::move(slot));
    return;
  }
  if (offloaded_ && !keep_on_device) {
    slot.master = offloaded_->make_master(slot.own);
    TORCH_CHECK(optimizer_->add_param(slot.master, weight_decay) == int(slots_.size()),
                "ZeroOptimizer: the host optimizer's slot numbers differ from ours");
    if (device_optimizer_) device_index_.push_back(-1);
  } else if (offloaded_) {
    // The device's share of a partial offload: fp32 master and state beside the parameters. The
    // host optimizer gets a placeholder so that its slot numbers stay ours.
    TORCH_CHECK(slot.own.device() == device_options_.device(), "ZeroOptimizer: a slot of the device's share (",
                slot.group->name(), ") has its values on ", slot.own.device());
    slot.master = slot.own.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
    device_index_.push_back(device_optimizer_->add_param(slot.master, weight_decay));
    device_slots_.push_back(int(slots_.size()));
    TORCH_CHECK(host_optimizer_->add_external_slot(slot.master.numel(), weight_decay) == int(slots_.size()),
                "ZeroOptimizer: the host optimizer's slot numbers differ from ours");
  } else {
    slot.master = separate_master_ ? slot.own.to(at::kFloat) : slot.own;
    optimizer_->add_param(slot.master, weight_decay);
  }
  slots_.push_back(std::move(slot));
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
  std::vector<Optimizer*> all{optimizer_.get()};
  if (device_optimizer_) all.push_back(device_optimizer_.get());
  return all;
}

std::map<std::string, at::Tensor> ZeroOptimizer::slot_state(int slot) const {
  if (on_device(slot)) return device_optimizer_->state(device_index_[size_t(slot)]);
  return optimizer_->state(slot);
}

bool ZeroOptimizer::fused_16bit(const Optimizer& opt) const {
  return separate_master_ && param16_ && opt.has_fused_16bit_step();
}

void ZeroOptimizer::update_on_device(Optimizer& opt, const std::vector<int>& which, const std::vector<int>& numbers,
                                     double lr, const std::optional<at::Tensor>& divisor) {
  if (which.empty()) return;
  if (fused_16bit(opt)) {
    // The gradients as they are, no fp32 scratch; the 16-bit values are written by the same pass
    // (not for units that gather from their masters: their 16-bit shards are gone).
    std::vector<at::Tensor> grads, params;
    for (int i : which) {
      grads.push_back(grad(slots_[size_t(i)]));
      params.push_back(slots_[size_t(i)].group->gathers_from_masters() ? at::Tensor() : slots_[size_t(i)].own);
    }
    opt.step_slots_16bit(numbers, grads, params, lr, divisor);
    return;
  }
  // 16-bit gradients become fp32 a few slots at a time, so the scratch stays bounded instead
  // of doubling the gradient memory.
  std::vector<int> batch;
  std::vector<at::Tensor> grads;
  int64_t scratch = 0;
  auto flush = [&]() {
    if (!batch.empty()) opt.step_slots(batch, grads, lr, divisor);
    batch.clear();
    grads.clear();
    scratch = 0;
  };
  for (size_t k = 0; k < which.size(); ++k) {
    at::Tensor g = grad(slots_[size_t(which[k])]);
    if (g.scalar_type() != at::kFloat) {
      g = g.to(at::kFloat);
      scratch += g.numel();
    }
    batch.push_back(numbers[k]);
    grads.push_back(g);
    if (scratch >= kStepScratchElements) flush();
  }
  flush();
  if (!separate_master_) return;
  for (int i : which) {
    const OwnedSlot& slot = slots_[size_t(i)];
    if (!slot.group->gathers_from_masters()) slot.own.copy_(slot.master.view_as(slot.own));
  }
}

void ZeroOptimizer::update_device_share(double lr, const std::optional<at::Tensor>& divisor) {
  if (!device_optimizer_) return;
  std::vector<int> numbers;
  for (int i : device_slots_) numbers.push_back(device_index_[size_t(i)]);
  update_on_device(*device_optimizer_, device_slots_, numbers, lr, divisor);
}

at::Tensor ZeroOptimizer::grad(const OwnedSlot& slot) { return slot.group->shard_grad(slot.bucket); }

at::Tensor ZeroOptimizer::global_sq_norm() {
  std::vector<at::Tensor> grads;
  for (const OwnedSlot& slot : slots_) grads.push_back(grad(slot).reshape({-1}));
  at::Tensor total = grads.empty() ? at::zeros({}, device_options_) : squared_norm(grads).to(device_options_.device());
  // Stage 0: every rank holds the same full gradient; otherwise sum the shards' parts.
  if (policy_.shard_optimizer) comm_.all_reduce(total, ReduceOp::sum)->wait();
  return total;
}

bool ZeroOptimizer::any_overflow() {
  at::Tensor any = at::zeros({}, device_options_);
  for (const OwnedSlot& slot : slots_) any = at::maximum(any, has_inf_or_nan(grad(slot)));
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
  // Unscale and clip in one divisor, computed on the device: no wait for the host here.
  out.grad_norm = global_sq_norm().sqrt_().div_(loss_scale);
  std::optional<at::Tensor> divisor;
  if (max_norm > 0)
    divisor = out.grad_norm.add(1e-6).div_(max_norm).clamp_min_(1.0).mul_(loss_scale);
  else if (loss_scale != 1.0)
    divisor = at::full({}, loss_scale, out.grad_norm.options());

  if (offloaded_ || nvme_) {
    // The CPU update wants the divisor as a number: one read, after which the gradients are final.
    const double host_divisor = divisor ? divisor->item<double>() : 1.0;
    optimizer_->begin_step();
    if (device_optimizer_) device_optimizer_->begin_step();
    // Unit shards in files: the update fills them completely, so they are not read first.
    const SlotAccess access = shard_access(/*read=*/false, /*write=*/true);
    std::vector<int> now, later;  // the CPU's slots: updated before step() returns, and after
    std::vector<at::Tensor> grads(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (on_device(int(i))) continue;
      (!slot_first_unit_.empty() && slot_first_unit_[i] >= 0 ? later : now).push_back(int(i));
      grads[i] = grad(slots_[i]);
    }
    if (!slot_first_unit_.empty()) {
      // The slots outside units (used before the first unit runs) now; the units' on the step's
      // thread in the order the units run, while the next forward runs. At stage 3 a unit's
      // gather waits for its own; at stages 1-2 its hook waits and all-gathers them
      // (before_unit). Gradients the thread still reads go in finish_update(). The device's share
      // (offload_optimizer.ratio) is updated once the thread's copies have started, beside them.
      std::stable_sort(later.begin(), later.end(), [this](int a, int b) { return slot_first_unit_[a] < slot_first_unit_[b]; });
      offloaded_->run(slots_, now, grads, lr, host_divisor);
      if (units_.empty()) {
        awaiting_gather_.assign(slots_.size(), 0);
        for (int i : later) awaiting_gather_[size_t(i)] = 1;
      }
      offloaded_->start(slots_, std::move(later), std::move(grads), lr, host_divisor);
      update_device_share(lr, divisor);
      publish(/*copy_masters=*/false);  // all-gathers what is not awaiting its update
      return out;
    }
    if (device_optimizer_) {
      // The CPU's share on the step's thread, its copies ordered before the device's update (on
      // the compute stream), so that both run at once. No shard is in a file here (refused with
      // a ratio below 1), so no access is needed.
      offloaded_->start(slots_, now, std::move(grads), lr, host_divisor);
      update_device_share(lr, divisor);
      offloaded_->finish();
    } else if (nvme_) {
      nvme_->run(slots_, [this](const OwnedSlot& slot) { return grad(slot); }, lr, host_divisor, access);
    } else {
      offloaded_->run(slots_, now, grads, lr, host_divisor, access);
    }
    close_shards(/*write=*/true);
    zero_grads();
    publish(/*copy_masters=*/false);  // the step wrote the new values into the shards already
    return out;
  }

  optimizer_->begin_step();
  std::vector<int> all(slots_.size());
  for (size_t i = 0; i < slots_.size(); ++i) all[i] = int(i);
  update_on_device(*optimizer_, all, all, lr, divisor);
  zero_grads();
  publish(/*copy_masters=*/false);  // update_on_device wrote the 16-bit values
  return out;
}

void ZeroOptimizer::publish_parameters() {
  if (!nvme_) return publish(separate_master_);
  c10::NoGradGuard no_grad;
  nvme_->flush();  // a checkpoint load's last writes
  nvme_->copy_masters(slots_, shard_access(/*read=*/false, /*write=*/true));
  close_shards(/*write=*/true);
  publish(/*copy_masters=*/false);
}

std::string ZeroOptimizer::offload_summary() const {
  if (nvme_) return nvme_->describe();
  if (!offloaded_) return std::string();
  if (!device_optimizer_) return offloaded_->describe();
  int64_t on_device = 0, total = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    total += slots_[i].own.numel();
    if (this->on_device(int(i))) on_device += slots_[i].own.numel();
  }
  int units_on_host = 0;
  for (const ParamGroup* unit : units_) units_on_host += unit->shard_on_host() ? 1 : 0;
  const std::string params = units_on_host ? ", with the parameter shards of " + std::to_string(units_on_host) + " of " +
                                                 std::to_string(units_.size()) + " units"
                                           : "";
  char share[256];
  std::snprintf(share, sizeof(share), " | ratio: %.1f%% of the elements (%zu of %zu slots%s) on the CPU, the rest on the device (%s)",
                total ? 100.0 * double(total - on_device) / double(total) : 0.0, slots_.size() - device_slots_.size(),
                slots_.size(), params.c_str(), device_optimizer_->name().c_str());
  return offloaded_->describe() + share;
}

void ZeroOptimizer::publish(bool copy_masters) {
  c10::NoGradGuard no_grad;
  // Every rank writes its updated values into its own part of each bucket; for gathered buckets
  // the all-gather then fills in the other ranks' parts in place (no temporary copies). Gathers
  // run in groups of about allgather_bucket_size elements; a group starts once the previous one
  // is done.
  std::vector<WorkHandle> works;
  int64_t in_flight = 0;
  const SlotAccess access = copy_masters ? shard_access(/*read=*/false, /*write=*/true) : SlotAccess();
  for (size_t i = 0; i < slots_.size(); ++i) {
    const OwnedSlot& slot = slots_[i];
    if (copy_masters && !slot.group->gathers_from_masters()) {
      if (access.open) access.open(int(i));
      slot.own.copy_(slot.master);
      if (access.close) access.close(int(i));
    }
    if (slot.group->partitioned() || !policy_.gather_after_step) continue;
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
