// The optimizer step over sharded state: fp32 master weights and optimizer state for this
// rank's chunks only (all of them at stage 0), global gradient norm and overflow checks across
// ranks, clipping, the update, and publishing the new 16-bit values (an all-gather for the
// gathered parameters, a copy into the shard for ZeRO-3 units).
#pragma once

#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/dist/communicator.hpp"
#include "zs/optim/optimizer.hpp"
#include "zs/zero/flat_params.hpp"
#include "zs/zero/grad_reducer.hpp"
#include "zs/zero/stage_policy.hpp"

namespace zs {

class ShardedUnit;
class UnitSchedule;

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
  at::Tensor own;                           // this rank's parameter values (16-bit, or fp32)
  at::Tensor master;                        // fp32 master values (== own in fp32 training)
  ShardedUnit* unit = nullptr;              // the ZeRO-3 unit holding it, if any
};

class ZeroOptimizer {
 public:
  // `group_weight_decay[g]` applies to buckets of group g. `allgather_elements` bounds how many
  // parameter elements are all-gathered at a time after the step. `units` (stage 3) adds a slot
  // for every bucket of every unit.
  ZeroOptimizer(FlatParams& flat, GradReducer& reducer, Communicator& comm, StagePolicy policy,
                std::unique_ptr<Optimizer> optimizer, std::vector<double> group_weight_decay,
                int64_t allgather_elements, UnitSchedule* units = nullptr);

  // One optimizer step on the reduced gradients. `loss_scale`: the factor the loss was scaled
  // by (1 without fp16); `check_overflow`: look for inf/nan first (fp16); `max_norm`: clip the
  // global gradient norm to it (0: off). Zeroes the gradients afterwards.
  StepOutcome step(double lr, double loss_scale, bool check_overflow, double max_norm);

  Optimizer& optimizer() { return *optimizer_; }
  const std::vector<OwnedSlot>& slots() const { return slots_; }
  // Writes the masters into the 16-bit parameters and all-gathers the gathered ones (after a
  // step, or after a checkpoint load wrote new masters). Collective.
  void publish_parameters();

 private:
  at::Tensor grad(const OwnedSlot& slot) const;
  at::Tensor global_sq_norm();
  bool any_overflow();
  void add_slot(OwnedSlot slot, double weight_decay);

  FlatParams& flat_;
  GradReducer& reducer_;
  Communicator& comm_;
  StagePolicy policy_;
  std::unique_ptr<Optimizer> optimizer_;
  int64_t allgather_elements_;
  bool separate_master_;          // 16-bit parameters: fp32 masters live in their own tensors
  std::vector<OwnedSlot> slots_;
};

}  // namespace zs
