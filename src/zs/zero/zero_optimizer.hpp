// The optimizer step over sharded state: fp32 master weights and optimizer state for this
// rank's chunks only (all of them at stage 0), global gradient norm and overflow checks across
// ranks, clipping, the update, and publishing the new 16-bit values (an all-gather for the
// gathered parameters, a copy into the shard for ZeRO-3 units). Where the masters and state live
// and where the update runs is a StateStore's business (zero/state/state_store.hpp): on the
// device, in host memory with the CPU updating (optimizer offload), or in files on NVMe;
// offload_optimizer.ratio below 1 keeps the rest of the slots in a device store beside the host
// one. This class decides which slot goes where, and when each store's update runs.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/dist/communicator.hpp"
#include "zs/optim/optimizer.hpp"
#include "zs/zero/param_group.hpp"
#include "zs/zero/stage_policy.hpp"
#include "zs/zero/state/state_store.hpp"

namespace zs {

struct StepOutcome {
  bool skipped = false;     // overflow (fp16): nobody stepped
  // Global norm of the unscaled gradient before clipping: a 0-dim fp32 tensor on the device,
  // read on the host only when someone asks (reading it waits for the device).
  at::Tensor grad_norm;
};

// offload_optimizer.ratio's split of pieces of `sizes` elements (slots, or stage-3 units), in the
// order the next forward needs them: the CPU takes a contiguous run from the back (from the front
// with `from_front`) for as long as its share of the elements stays nearest to `ratio`. True:
// the CPU's. The engine places units with it, the optimizer its slots.
std::vector<bool> offload_ratio_split(const std::vector<int64_t>& sizes, double ratio, bool from_front);

class ZeroOptimizer {
 public:
  // A slot for every bucket of every group, in the order given (at stage 3: the gathered group,
  // then the units). `group_weight_decay[g]` applies to buckets of weight-decay group g.
  // `allgather_elements` bounds how many parameter elements are all-gathered at a time after the
  // step. `offload` enabled (device "cpu" or "nvme"): `optimizer` must be a HostOptimizer
  // (make_host_optimizer) and the masters go to host memory (or files). With device "cpu" and
  // offload.ratio < 1, `device_optimizer` (make_optimizer's, same config) updates the slots that
  // stay on the device, about 1 - ratio of the elements; the CPU holds the ones the next forward
  // needs last (plan_device_slots). `split_by_units` (offload_param "cpu" with a ratio): the
  // engine has split whole units already, and the CPU takes exactly the slots of the units whose
  // shards are in host memory.
  ZeroOptimizer(std::vector<ParamGroup*> groups, Communicator& comm, StagePolicy policy,
                std::unique_ptr<Optimizer> optimizer, std::vector<double> group_weight_decay,
                int64_t allgather_elements, const OffloadConfig& offload = OffloadConfig(),
                std::unique_ptr<Optimizer> device_optimizer = nullptr, bool split_by_units = false);
  ~ZeroOptimizer();

  // One optimizer step on the reduced gradients. `loss_scale`: the factor the loss was scaled
  // by (1 without fp16); `check_overflow`: look for inf/nan first (fp16); `max_norm`: clip the
  // global gradient norm to it (0: off). Zeroes the gradients afterwards.
  StepOutcome step(double lr, double loss_scale, bool check_overflow, double max_norm);

  // offload_optimizer.super_offload (CPU offload at stage 3, shards in memory): begins the step of
  // the window whose last backward is about to run, with learning rate `lr` and nothing that needs
  // the whole gradient first (no clipping, no loss scaling, no overflow check). Each unit's slots
  // are then updated as soon as backward has reduced its gradient; step() adds the other slots.
  // Same arithmetic as the step after backward. Only where can_begin_step_in_backward().
  void begin_step_in_backward(double lr);
  bool step_begun_in_backward() const { return step_in_backward_; }
  bool can_begin_step_in_backward() const { return super_offload_; }

  // With optimizer offload at stage 3 the units' slots are still being updated after step()
  // returns (each unit's gather waits for its own); this waits for all of them and lets the
  // gradients go. A no-op otherwise. The engine calls it before anything else touches the state.
  // Throws between begin_step_in_backward() and step(): the step must be completed first.
  void finish_update();
  // Optimizer offload at stages 1-2: the model's units, in forward order, as their parameters.
  // Slots made only of unit parameters are then updated while the next forward runs, and
  // before_unit(u) (the engine calls it before unit u's forward) waits for those of unit u and
  // all-gathers them. Slots with any other parameter are updated within step().
  void overlap_with_units(const std::vector<std::vector<at::Tensor>>& unit_params);
  void before_unit(int unit);

  // The optimizers of the slots' stores (the host one first with offload): hyper-parameter
  // changes and step counts go to all of them. optimizer() is the first.
  Optimizer& optimizer() { return stores_.front()->optimizer(); }
  std::vector<Optimizer*> optimizers();
  const std::vector<OwnedSlot>& slots() const { return slots_; }
  // The fp32 masters of `group`'s slots, bucket by bucket (undefined where they live in files).
  std::vector<at::Tensor> masters_of(const ParamGroup& group) const;
  // Elements [begin, begin + numel) of slot `slot`'s master and optimizer state, from whichever
  // store holds it: what checkpoints read and write (publish_parameters() makes writes count).
  SlotStateRange slot_state(int slot, int64_t begin, int64_t numel);
  // Writes the masters into the 16-bit parameters and all-gathers the gathered ones (after a
  // step, or after a checkpoint load wrote new masters). Collective.
  void publish_parameters();
  // With offload: where the optimizer state lives and how the step runs; empty otherwise.
  std::string offload_summary() const;

 private:
  // All-gathers the gathered parameters' buckets (those not awaiting their update).
  void publish();
  void zero_grads();
  at::Tensor global_sq_norm();
  bool any_overflow();
  // Which slots stay on the device under offload_optimizer.ratio (true: in the device store).
  std::vector<bool> plan_device_slots(double ratio) const;
  StateStore& store_of(int slot) const { return *slot_store_[size_t(slot)]; }
  // Opens every store for one step (after begin_step); `background`: the stores that can update
  // on a thread of their own do.
  void open_stores(const StepScale& scale, bool background, const SlotAccess& access);
  // Hands every store its slots of each batch (slots, priority), store by store: the host store's
  // batches all go first, so that none of its copies waits for the device's update.
  void submit(const std::vector<std::pair<std::vector<int>, int>>& batches);
  StepOutcome finish_step_begun_in_backward(double lr, double loss_scale, bool check_overflow, double max_norm);
  // offload_param "nvme": opens each unit's shard before its first slot (reading its file when
  // `read`) and closes it after its last (writing it back when `write`); empty otherwise.
  SlotAccess shard_access(bool read, bool write) const;
  void close_shards(bool write);  // any shard an access left open (a last slot without pieces)
  void gather_awaiting(int slot);

  std::vector<ParamGroup*> groups_;
  std::vector<ParamGroup*> units_;  // the partitioned ones (stage 3)
  at::TensorOptions device_options_;  // fp32 on the parameters' device
  Communicator& comm_;
  StagePolicy policy_;
  bool shards_in_files_ = false;  // offload_param "nvme"
  int64_t allgather_elements_;
  bool separate_master_;          // the masters are not the parameters themselves
  std::vector<OwnedSlot> slots_;
  // The stores (the host or NVMe one first with offload; with offload_optimizer.ratio < 1 a
  // device store second) and each slot's.
  std::vector<std::unique_ptr<StateStore>> stores_;
  std::vector<StateStore*> slot_store_;
  StateStore* device_share_ = nullptr;  // offload_optimizer.ratio < 1: the device store
  bool offload_ = false;                // optimizer offload (to the CPU or NVMe)
  bool split_by_units_ = false;         // the CPU's share is the units whose shards are in host memory
  // A CPU update that overlaps the next forward (offload at stage 3, or overlap_step at stages
  // 1-2): each slot's first unit in forward order (-1: updated within step(); empty: no overlap);
  // at stages 1-2 also each unit's slots and the slots whose all-gather waits for their update.
  std::vector<std::vector<int>> unit_slots_;
  std::vector<int> slot_first_unit_;
  std::vector<char> awaiting_gather_;
  bool super_offload_ = false;     // the config asks for steps begun in backward
  bool step_in_backward_ = false;  // one is running: between begin_step_in_backward() and step()
  double step_lr_ = 0;
};

}  // namespace zs
