// Fused CPU Adam/AdamW for optimizer state offloaded to host memory.
//
// One pass over memory per step: read param, grad, exp_avg, exp_avg_sq; write param, exp_avg,
// exp_avg_sq and (optionally) a bf16/fp16 copy of the updated param, ready to go back to the GPU.
// The math is LibTorch's fused CPU Adam/AdamW (at::_fused_adam_ / at::_fused_adamw_) operation by
// operation, in fp32 with the same fp32-rounded coefficients and an fma wherever LibTorch's
// vector loop has one, so results equal it bit for bit, except in the last numel % 16 elements,
// which LibTorch runs through a scalar loop that rounds exp_avg_sq differently (there the two
// agree to fp32 rounding). Checked by tests/test_cpu_adam.cpp.
//   g  = g / grad_divisor                          (loss scale and clipping folded together)
//   Adam:  g = fma(p, weight_decay, g)             AdamW: p = p * (1 - lr * weight_decay)
//   m  = lerp(m, g, 1 - beta1)                     (one fma)
//   v  = fma((1 - beta2) * g, g, beta2 * v)
//   p  = p - lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
//
// The SIMD flavour is chosen at run time (AVX-512, else AVX2+FMA+F16C, else scalar); the
// environment variable ZS_CPU_ADAM_ISA=scalar|avx2|avx512 forces one. All flavours give identical
// results, and so does any thread count (the update is element-wise). The grad is only read
// (LibTorch's kernel writes the divided grad back; this one does not).
#pragma once

#include <cstdint>
#include <optional>

#include <ATen/core/Tensor.h>

namespace zs {

enum class CpuIsa { kScalar, kAvx2, kAvx512 };

// Element types the kernel reads or writes besides the fp32 state.
enum class CpuDtype { kFloat32, kBFloat16, kFloat16 };

struct AdamHyper {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = true;  // true: AdamW (decoupled weight decay); false: Adam (L2 added to grad)
};

struct CpuAdamArgs {
  int64_t numel = 0;
  float* param = nullptr;        // fp32 master weights, updated in place
  const void* grad = nullptr;    // read only; element type grad_dtype
  CpuDtype grad_dtype = CpuDtype::kFloat32;
  float* exp_avg = nullptr;      // fp32, updated in place
  float* exp_avg_sq = nullptr;   // fp32, updated in place
  void* param16 = nullptr;       // optional: receives the updated param as param16_dtype
  CpuDtype param16_dtype = CpuDtype::kBFloat16;  // kBFloat16 or kFloat16
  AdamHyper hyper;
  int64_t step = 1;              // 1 for the first step (bias correction)
  double grad_divisor = 1.0;
  int threads = 1;               // <= 0: default_cpu_threads()
};

// Raw-pointer kernel. The arrays must not overlap (param16 may not alias param).
void cpu_adam_step(const CpuAdamArgs& args);

// Tensor-level wrapper with argument checks: every tensor contiguous and on the CPU with
// param.numel() elements; param, exp_avg, exp_avg_sq fp32; grad fp32, bf16 or fp16; param16_out
// bf16 or fp16. threads <= 0 means default_cpu_threads().
void cpu_adam_step(at::Tensor param, at::Tensor grad, at::Tensor exp_avg, at::Tensor exp_avg_sq,
                   std::optional<at::Tensor> param16_out, const AdamHyper& hyper, int64_t step,
                   double grad_divisor, int threads);

// Cores this process may run on (its affinity mask) divided among the ranks sharing the node
// (LOCAL_WORLD_SIZE, default 1), times `core_share` (super_offload's cpuadam_cores_perc); at least
// 1. ZS_CPU_ADAM_THREADS overrides it. OMP_NUM_THREADS is deliberately ignored: launchers often set
// it to 1, which would starve the optimizer.
int default_cpu_threads(double core_share = 1.0);

// The flavour cpu_adam_step uses: ZS_CPU_ADAM_ISA when set (an error if this CPU lacks it),
// otherwise the best this CPU supports.
CpuIsa cpu_adam_isa();
bool cpu_isa_supported(CpuIsa isa);
const char* cpu_isa_name(CpuIsa isa);

// cpu_adam_step with an explicit flavour (tests and benchmarks). Throws if the CPU lacks it.
void cpu_adam_step_with_isa(const CpuAdamArgs& args, CpuIsa isa);

}  // namespace zs
