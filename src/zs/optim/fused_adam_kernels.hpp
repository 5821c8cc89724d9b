// The fused Adam/AdamW step of 16-bit training (fused_adam_kernels.cu), on raw pointers so that nvcc
// compiles it without LibTorch's headers; fused_adam_cuda.cpp checks the tensors and calls it. GPU
// builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "zs/kernels/float_kind.hpp"

namespace zs::kernels {

// The hyper-parameters as fp32 values (each double rounded to the nearest float, as LibTorch's
// fused kernels take them).
struct AdamHyper {
  float lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: the parameter shrinks by lr * weight_decay; Adam: decay joins the gradient
};

// One optimizer slot of n elements. master, exp_avg and exp_avg_sq (fp32) are updated in place from
// grad (of grad_kind), which is only read; param (bf16 or f16, of param_kind) receives the updated
// master rounded to nearest, or nothing when null. Any element offsets: the 16-byte vector path
// covers the elements where every pointer is aligned at once, the rest go one at a time.
struct AdamSlot {
  float* master;
  float* exp_avg;
  float* exp_avg_sq;
  const void* grad;
  void* param;
  int64_t n;
};

// step: the step count (fp32, on the device, already counting this step); divisor: the fp32 value
// on the device every gradient is divided by first (loss scale and clipping), or null for none.
void launch_fused_adam(const AdamSlot& slot, FloatKind grad_kind, FloatKind param_kind, const AdamHyper& hyper,
                       const float* step, const float* divisor, cudaStream_t stream);

// Slots of one gradient kind and one parameter kind, each with its own weight decay
// (hyper.weight_decay is not read), in launches of up to kAdamBatchSlots slots: each slot's bits
// as launch_fused_adam's, in a fraction of the launches.
constexpr int kAdamBatchSlots = 32;  // keeps a launch's arguments well inside the 4 KiB limit
void launch_fused_adam_batch(const AdamSlot* slots, const float* weight_decays, int count, FloatKind grad_kind,
                             FloatKind param_kind, const AdamHyper& hyper, const float* step, const float* divisor,
                             cudaStream_t stream);

}  // namespace zs::kernels
