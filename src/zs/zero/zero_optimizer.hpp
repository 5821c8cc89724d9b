// The optimizer step over sharded state: fp32 master weights and optimizer state for this
// rank's chunks only (all of them at stage 0), global gradient norm and overflow checks across
// ranks, clipping, the update, and the all-gather that brings every rank the new parameters.
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

struct StepOutcome {
  bool skipped = false;     // overflow (fp16): nobody stepped
  // Global norm of the unscaled gradient before clipping: a 0-dim fp32 tensor on the device,
  // read on the host only when someone asks (reading it waits for the device).
  at::Tensor grad_norm;
};

class ZeroOptimizer {
 public:
  // `group_weight_decay[g]` applies to buckets of group g. `allgather_elements` bounds how many
  // parameter elements are being all-gathered at once after the step.
  ZeroOptimizer(FlatParams& flat, GradReducer& reducer, Communicator& comm, StagePolicy policy,
                std::unique_ptr<Optimizer> optimizer, std::vector<double> group_weight_decay,
                int64_t allgather_elements);

  // One optimizer step on the reduced gradients. `loss_scale`: the factor the loss was scaled
  // by (1 without fp16); `check_overflow`: look for inf/nan first (fp16); `max_norm`: clip the
  // global gradient norm to it (0: off). Zeroes the gradients afterwards.
  StepOutcome step(double lr, double loss_scale, bool check_overflow, double max_norm);

  Optimizer& optimizer() { return *optimizer_; }
  // This rank's fp32 master values of bucket b (the chunk, or the whole bucket at stage 0), and
  // where they sit in the flat buffer: [own_begin(b), own_begin(b) + master(b).numel()).
  at::Tensor master(int b) const { return masters_[b]; }
  int64_t own_begin(int b) const;
  // Copies the masters into the 16-bit parameters and all-gathers them (after a step, or after
  // a checkpoint load wrote new masters). Collective.
  void publish_parameters();

 private:
  at::Tensor global_sq_norm();
  bool any_overflow();

  FlatParams& flat_;
  GradReducer& reducer_;
  Communicator& comm_;
  StagePolicy policy_;
  std::unique_ptr<Optimizer> optimizer_;
  int64_t allgather_elements_;
  bool separate_master_;          // 16-bit parameters: fp32 masters live in their own buffer
  at::Tensor master_buffer_;
  std::vector<at::Tensor> masters_;
};

}  // namespace zs
