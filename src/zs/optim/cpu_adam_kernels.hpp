// Internal to the CPU Adam: the per-flavour range kernels and the fp32 coefficients they share.
// Each flavour lives in its own translation unit, compiled with its own -m flags (see
// src/zs/CMakeLists.txt), and all of them with -ffp-contract=off so the compiler never fuses a
// multiply and an add on its own: every fma below is written out, which keeps the flavours (and
// LibTorch's fused kernel) bit-identical.
#pragma once

#include <cstdint>

#include "zs/optim/cpu_adam.hpp"

namespace zs::cpu_adam_detail {

// Hyper-parameters rounded to fp32 once per step, from double math (as LibTorch does).
struct Coeffs {
  bool divide = false;        // g = g / grad_divisor
  float grad_divisor = 1.0f;
  bool l2 = false;            // Adam: g = fma(p, weight_decay, g)
  float weight_decay = 0.0f;
  bool decay_param = false;   // AdamW: p = p * decay
  float decay = 1.0f;         // 1 - lr * weight_decay
  bool lerp_from_m = true;    // m = fma(lerp_coeff, g - m, lerp_from_m ? m : g)
  float lerp_coeff = 0.0f;    // 1 - beta1, or (1 - beta1) - 1 when |1 - beta1| >= 0.5
  float beta2 = 0.0f;          // v = fma(one_minus_beta2 * g, g, v * beta2)
  float one_minus_beta2 = 0.0f;
  float bias_correction2_sqrt = 1.0f;
  float eps = 0.0f;
  float neg_step_size = 0.0f;  // p = p + (neg_step_size * m) / (sqrt(v) / bc2_sqrt + eps)
};

Coeffs make_coeffs(const CpuAdamArgs& args);

// Update elements [begin, end) of the arrays in args. begin is a multiple of 16.
void adam_range_scalar(const CpuAdamArgs& args, const Coeffs& c, int64_t begin, int64_t end);
void adam_range_avx2(const CpuAdamArgs& args, const Coeffs& c, int64_t begin, int64_t end);
void adam_range_avx512(const CpuAdamArgs& args, const Coeffs& c, int64_t begin, int64_t end);

}  // namespace zs::cpu_adam_detail
