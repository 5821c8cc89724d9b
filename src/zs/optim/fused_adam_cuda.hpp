// The fused Adam/AdamW step of 16-bit training on the GPU (fused_adam_kernels.cu): one pass per slot
// that reads the gradient as it is (bf16, fp16 or fp32), updates the fp32 master and moments, and
// writes the 16-bit parameter. GPU builds only; Adam (adam.cpp) calls it from step_slots_16bit.
#pragma once

#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>

namespace zs {

struct FusedAdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW
};

// One slot: master, exp_avg, exp_avg_sq (contiguous fp32 on one GPU) updated in place; grad
// (contiguous, fp32, bf16 or fp16, same numel) only read, divided by `divisor` (a one-element fp32
// tensor on that GPU) when given; param (contiguous bf16 or fp16, same numel) receives the new
// master rounded to nearest, unless undefined. step: the fp32 step count on that GPU, this step
// included. The same bits as at::_fused_adam_/_fused_adamw_ over grad.to(fp32) followed by
// param.copy_(master). Throws std::invalid_argument for tensors it does not take.
void fused_adam_step(const at::Tensor& master, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq,
                     const at::Tensor& grad, const at::Tensor& param, const at::Tensor& step,
                     const FusedAdamHyper& hyper, const std::optional<at::Tensor>& divisor);

// One slot of a batch: the tensors of fused_adam_step, with the slot's own weight decay.
struct FusedAdamSlot {
  at::Tensor master, exp_avg, exp_avg_sq, grad, param;
  double weight_decay = 0.0;
};

// Every slot as fused_adam_step would step it (hyper.weight_decay is not read: each slot has its
// own), the same bits, in a few launches rather than one a slot: a batch per pair of gradient dtype
// and parameter dtype among the slots (an undefined param: none written). The slots share a GPU.
void fused_adam_step(const std::vector<FusedAdamSlot>& slots, const at::Tensor& step, const FusedAdamHyper& hyper,
                     const std::optional<at::Tensor>& divisor);

}  // namespace zs
