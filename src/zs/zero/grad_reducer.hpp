// Gradient communication during backward, bucket by bucket.
//
// A post-accumulate-grad hook on every parameter counts down its bucket. When a bucket's last
// gradient has landed, the bucket is reduced across ranks: all-reduced (stage 0) or
// reduce-scattered into this rank's shard gradient (stages 1 and 2). Buckets are launched in
// index order on every rank, so all ranks issue the same collectives in the same order.
//
// Stages 0/1 keep a full gradient buffer (.grad points into it) and communicate only on the
// accumulation boundary. Stage 2 keeps no full buffer: each gradient is copied into a bucket's
// staging buffer and released at once, and every micro-step's buckets are reduce-scattered and
// accumulated into the shard gradient.
#pragma once

#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/dist/communicator.hpp"
#include "zs/zero/flat_params.hpp"
#include "zs/zero/reduction.hpp"
#include "zs/zero/stage_policy.hpp"

namespace zs {

class GradReducer {
 public:
  GradReducer(FlatParams& flat, Communicator& comm, StagePolicy policy, ReducerOptions options);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Call before/after each backward. `boundary`: the last micro-step of the accumulation window;
  // `first`: the first micro-step of the window.
  void begin_backward(bool boundary, bool first);
  void end_backward();

  // This rank's reduced gradient of bucket b (valid after the boundary's end_backward):
  // the whole bucket for stage 0, this rank's chunk otherwise. Dtype: the parameters' dtype.
  at::Tensor shard_grad(int b) const;
  // Zeroes every gradient after the optimizer step.
  void zero_grads();

 private:
  struct Pending {
    PendingReduction reduction;
    int staging = -1;     // stage 2: the staging buffer the input came from
    bool release_staging_in_finish = false;
  };
  struct Staging {
    at::Tensor buffer;
    WorkHandle last_use;
    bool busy = false;
  };

  void on_grad_ready(int entry);
  void mark_ready(int bucket);
  void launch(int bucket);
  void finish(Pending& p);
  int acquire_staging(int bucket);

  FlatParams& flat_;
  Communicator& comm_;
  StagePolicy policy_;
  ReducerOptions options_;
  int rank_, world_;

  at::Tensor shard_grads_;              // stage 2: this rank's chunks, concatenated
  std::vector<Staging> staging_;        // stage 2
  std::vector<int> bucket_staging_;     // stage 2: bucket -> staging buffer while it fills
  std::vector<at::Tensor> direct_input_;  // stage 2: single-parameter buckets reduce from .grad

  bool communicate_ = false, first_micro_step_ = true, in_backward_ = false;
  std::vector<int> remaining_;          // per bucket: gradients still to land
  std::vector<char> ready_, seen_;
  int next_launch_ = 0;
  std::vector<Pending> pending_;
};

}  // namespace zs
