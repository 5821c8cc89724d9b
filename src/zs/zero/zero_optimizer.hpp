// The optimizer step over sharded state: fp32 master weights and optimizer state for this
// rank's chunks only (all of them at stage 0), global gradient norm and overflow checks across
// ranks, clipping, the update, and publishing the new 16-bit values (an all-gather for the
// gathered parameters, a copy into the shard for ZeRO-3 units). With optimizer offload the
// masters and state live in host memory and the update runs on the CPU (offloaded_step.hpp);
// offload_optimizer.ratio below 1 keeps the rest of the slots' masters and state on the device,
// updated there by an optimizer of their own while the CPU updates its share.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/dist/communicator.hpp"
#include "zs/optim/optimizer.hpp"
#include "zs/zero/param_group.hpp"
#include "zs/zero/stage_policy.hpp"

namespace zs {

class HostOptimizer;
class NvmeOffload;
class OffloadedStep;
struct SlotAccess;

struct StepOutcome {
  bool skipped = false;     // overflow (fp16): nobody stepped
  // Global norm of the unscaled gradient before clipping: a 0-dim fp32 tensor on the device,
  // read on the host only when someone asks (reading it waits for the device).
  at::Tensor grad_norm;
};

// One optimizer slot: a bucket's worth of parameter values this rank owns.
struct OwnedSlot {
  const FlatLayout* layout;                 // the layout the bucket belongs to
  const std::vector<NamedParam>* params;    // that layout's parameters
  int bucket = 0;
  int64_t own_begin = 0;                    // where `own` starts in the layout's flat coordinates
  at::Tensor own;                           // this rank's parameter values (16-bit, or fp32); with
                                            // offload_param "nvme" reachable only while the unit's
                                            // shard is open (ParamGroup::open_shard); no storage
                                            // for a unit that gathers from its masters
  at::Tensor master;                        // fp32 master values (== own in fp32 training without
                                            // offload; in host memory with offload, except for a
                                            // partial offload's device share; undefined with NVMe
                                            // offload, where they live in files)
  ParamGroup* group = nullptr;              // the group holding it (partitioned: a ZeRO-3 unit)
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

  // The optimizer of every slot (the host one with offload), and with offload_optimizer.ratio < 1
  // also the device one: hyper-parameter changes and step counts go to all of them.
  Optimizer& optimizer() { return *optimizer_; }
  std::vector<Optimizer*> optimizers();
  const std::vector<OwnedSlot>& slots() const { return slots_; }
  // A slot's optimizer state by name (exp_avg, ...), from whichever optimizer updates it.
  std::map<std::string, at::Tensor> slot_state(int slot) const;
  // Writes the masters into the 16-bit parameters and all-gathers the gathered ones (after a
  // step, or after a checkpoint load wrote new masters). Collective.
  void publish_parameters();
  // With offload: where the optimizer state lives and how the step runs; empty otherwise.
  std::string offload_summary() const;
  // With NVMe offload (device "nvme"): the files holding every slot's master and state, which
  // checkpoints read and write through it; null otherwise.
  NvmeOffload* nvme_offload() { return nvme_.get(); }

 private:
  void publish(bool copy_masters);
  void zero_grads();
  at::Tensor grad(const OwnedSlot& slot);
  at::Tensor global_sq_norm();
  bool any_overflow();
  void add_slot(OwnedSlot slot, double weight_decay, bool keep_on_device);
  // Which slots stay on the device under offload_optimizer.ratio (true: updated there).
  std::vector<bool> plan_device_slots(double ratio) const;
  bool on_device(int slot) const { return !device_index_.empty() && device_index_[size_t(slot)] >= 0; }
  // Updates the slots `which` with `opt` on the device (`numbers[k]`: slot which[k]'s number in
  // opt) and writes their 16-bit values, except for units that gather from their masters.
  void update_on_device(Optimizer& opt, const std::vector<int>& which, const std::vector<int>& numbers, double lr,
                        const std::optional<at::Tensor>& divisor);
  bool fused_16bit(const Optimizer& opt) const;
  void update_device_share(double lr, const std::optional<at::Tensor>& divisor);
  StepOutcome finish_step_begun_in_backward(double lr, double loss_scale, bool check_overflow, double max_norm);
  // offload_param "nvme": opens each unit's shard before its first slot (reading its file when
  // `read`) and closes it after its last (writing it back when `write`); empty otherwise.
  SlotAccess shard_access(bool read, bool write) const;
  void close_shards(bool write);  // any shard an access left open (a last slot without pieces)

  std::vector<ParamGroup*> groups_;
  std::vector<ParamGroup*> units_;  // the partitioned ones (stage 3)
  at::TensorOptions device_options_;  // fp32 on the parameters' device
  Communicator& comm_;
  StagePolicy policy_;
  bool shards_in_files_ = false;  // offload_param "nvme"
  std::unique_ptr<Optimizer> optimizer_;
  int64_t allgather_elements_;
  bool separate_master_;          // 16-bit parameters: fp32 masters live in their own tensors
  // bf16/fp16 parameters: with fp32 masters on the GPU and an optimizer that fuses the step there
  // (fused_16bit), one pass per slot reads the 16-bit gradient, updates master and state, and
  // writes the 16-bit values.
  bool param16_ = false;
  std::vector<OwnedSlot> slots_;
  // offload_optimizer.ratio < 1: the optimizer of the slots kept on the device, each slot's number
  // there (-1: on the host; empty without a device share), and those slots in order.
  std::unique_ptr<Optimizer> device_optimizer_;
  bool split_by_units_ = false;   // the CPU's share is the units whose shards are in host memory
  std::vector<int> device_index_;
  std::vector<int> device_slots_;
  HostOptimizer* host_optimizer_ = nullptr;
  std::unique_ptr<OffloadedStep> offloaded_;  // set with optimizer offload to the CPU
  std::unique_ptr<NvmeOffload> nvme_;         // set with optimizer offload to NVMe
  std::vector<double> slot_weight_decays_;    // NVMe: registered once every slot exists
  // CPU offload at stage 3, or at stages 1-2 with overlap_with_units: each slot's first unit in
  // forward order (-1: updated within step(); empty: no overlap); at stages 1-2 also each unit's
  // slots and the slots whose all-gather waits for their update.
  std::vector<std::vector<int>> unit_slots_;
  std::vector<int> slot_first_unit_;
  std::vector<char> awaiting_gather_;
  bool super_offload_ = false;     // the config asks for steps begun in backward
  bool step_in_backward_ = false;  // one is running: between begin_step_in_backward() and step()
  double step_lr_ = 0;
  void gather_awaiting(int slot);
};

}  // namespace zs
