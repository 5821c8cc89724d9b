// A sum over the ranks that autograd differentiates: the forward all-reduces a copy of the tensor,
// the backward all-reduces the incoming gradient. For a quantity every rank's loss depends on (the
// batch statistics of SyncBatchNorm), this gives each rank the gradient of the sum of all ranks'
// losses with respect to its own contribution. Collective: every rank calls it in the same order,
// forward and backward.
#pragma once

#include <functional>
#include <memory>

#include <ATen/core/Tensor.h>

#include "zs/dist/communicator.hpp"

namespace zs {

at::Tensor differentiable_rank_sum(const at::Tensor& tensor, const std::shared_ptr<Communicator>& comm);

// The same, bound to one communicator (what zs::convert_sync_batchnorm takes).
std::function<at::Tensor(const at::Tensor&)> differentiable_rank_sum(std::shared_ptr<Communicator> comm);

}  // namespace zs
