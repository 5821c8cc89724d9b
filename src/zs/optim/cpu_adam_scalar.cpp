// The portable flavour of the CPU Adam: one element at a time, the same operations in the same
// order as the SIMD flavours (explicit std::fma where they fuse, plain ops elsewhere), so its
// results are bit-identical to theirs.
#include <cmath>
#include <cstring>

#include <c10/util/Half.h>

#include "zs/optim/cpu_adam_kernels.hpp"

namespace zs::cpu_adam_detail {
namespace {

float bf16_to_float(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Round to nearest even; NaN stays a (quiet) NaN.
uint16_t float_to_bf16(float f) {
  if (std::isnan(f)) return 0x7FC0;
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t rounding_bias = 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>((u + rounding_bias) >> 16);
}

float load_grad(const CpuAdamArgs& a, int64_t i) {
  switch (a.grad_dtype) {
    case CpuDtype::kFloat32: return static_cast<const float*>(a.grad)[i];
    case CpuDtype::kBFloat16: return bf16_to_float(static_cast<const uint16_t*>(a.grad)[i]);
    case CpuDtype::kFloat16:
      return static_cast<float>(c10::Half(static_cast<const uint16_t*>(a.grad)[i], c10::Half::from_bits()));
  }
  return 0.0f;
}

void store_param16(const CpuAdamArgs& a, int64_t i, float p) {
  uint16_t* out = static_cast<uint16_t*>(a.param16);
  out[i] = a.param16_dtype == CpuDtype::kBFloat16 ? float_to_bf16(p) : c10::Half(p).x;
}

}  // namespace

void adam_range_scalar(const CpuAdamArgs& a, const Coeffs& c, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float p = a.param[i];
    float g = load_grad(a, i);
    if (c.divide) g = g / c.grad_divisor;
    if (c.l2) g = std::fma(p, c.weight_decay, g);
    if (c.decay_param) p = p * c.decay;
    float m = a.exp_avg[i];
    m = std::fma(c.lerp_coeff, g - m, c.lerp_from_m ? m : g);
    float v = a.exp_avg_sq[i];
    v = std::fma(c.one_minus_beta2 * g, g, v * c.beta2);
    a.exp_avg[i] = m;
    a.exp_avg_sq[i] = v;
    const float denom = std::sqrt(v) / c.bias_correction2_sqrt + c.eps;
    p = p + (c.neg_step_size * m) / denom;
    a.param[i] = p;
    if (a.param16) store_param16(a, i, p);
  }
}

}  // namespace zs::cpu_adam_detail
