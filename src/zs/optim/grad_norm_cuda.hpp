// The squared norm of many GPU tensors in a few launches (grad_norm_kernels.cu). GPU builds only;
// squared_norm(std::vector) in grad_utils.hpp calls it when its tensors qualify.
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

namespace zs {

// Whether squared_norm_cuda takes these: contiguous CUDA tensors of one floating dtype (fp32, bf16
// or fp16) on one GPU, at least one of them.
bool squared_norm_cuda_applies(const std::vector<at::Tensor>& tensors);

// The sum of squares of every element of every tensor as a 0-dim fp32 tensor on their GPU,
// accumulated in fp32; never waits for the device.
at::Tensor squared_norm_cuda(const std::vector<at::Tensor>& tensors);

}  // namespace zs
