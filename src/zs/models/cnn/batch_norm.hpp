// BatchNorm2d for the CNNs: torch::nn::BatchNorm2d (same options, parameters and buffers, so
// torchvision's weights load unchanged) with one seam, for SyncBatchNorm: a function that sums a
// tensor over the data-parallel ranks, differentiably. Unset (the default, and always outside an
// engine), the forward is BatchNorm2d's. Set (zs::convert_sync_batchnorm in engine/), training
// forwards normalise with the statistics of the whole global micro-batch: every rank's sum and sum
// of squares per channel are summed across ranks, so world size 1 with batch 2B and world size 2
// with batch B each give the same outputs, running statistics and gradients. Under activation
// checkpointing the recomputation in backward normalises with the batch's statistics again but
// leaves the running statistics as the forward left them (one update per batch).
#pragma once

#include <functional>

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/pimpl.h>

namespace zs {

// Sums a tensor over the ranks; its backward sums the incoming gradient over the ranks too.
using RankSum = std::function<at::Tensor(const at::Tensor&)>;

class BatchNorm2dImpl : public torch::nn::BatchNorm2dImpl {
 public:
  using torch::nn::BatchNorm2dImpl::BatchNorm2dImpl;

  at::Tensor forward(const at::Tensor& input);

  void set_rank_sum(RankSum sum) { rank_sum_ = std::move(sum); }
  bool synchronized() const { return static_cast<bool>(rank_sum_); }

 private:
  at::Tensor synchronized_forward(const at::Tensor& input);

  RankSum rank_sum_;
};
TORCH_MODULE(BatchNorm2d);

// SyncBatchNorm: every zs::BatchNorm2d in `module` normalises over the ranks that `sum` sums over
// (zs::differentiable_rank_sum(world.comm), in dist/). Returns how many layers it set.
int convert_sync_batchnorm(torch::nn::Module& module, const RankSum& sum);

}  // namespace zs
