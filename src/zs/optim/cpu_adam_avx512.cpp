// The AVX-512 flavour of the CPU Adam (needs AVX512F/BW/VL; compiled with those -m flags, used
// only where the CPU has them). 16 elements per iteration; the last partial block runs the same
// arithmetic with masked loads and stores, so there is no scalar tail and every element takes
// one path.
#include <cstdint>

#include <immintrin.h>

#include "zs/optim/cpu_adam_kernels.hpp"

// GCC 12 flags its own intrinsics' deliberately undefined registers (_mm512_undefined_ps) once
// they are inlined here: a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace zs::cpu_adam_detail {
namespace {

enum class Out16 { kNone, kBFloat16, kFloat16 };

template <CpuDtype kGrad, bool kMasked>
inline __m512 load_grad(const void* grad, int64_t i, __mmask16 k) {
  if constexpr (kGrad == CpuDtype::kFloat32) {
    const float* g = static_cast<const float*>(grad) + i;
    return kMasked ? _mm512_maskz_loadu_ps(k, g) : _mm512_loadu_ps(g);
  } else {
    const uint16_t* g = static_cast<const uint16_t*>(grad) + i;
    const __m256i h = kMasked ? _mm256_maskz_loadu_epi16(k, g) : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g));
    if constexpr (kGrad == CpuDtype::kBFloat16) {
      // bf16 is the top half of an fp32: widen and shift.
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    } else {
      return _mm512_cvtph_ps(h);
    }
  }
}

// fp32 -> bf16, round to nearest even, with integer ops: add 0x7FFF plus the lowest kept bit,
// then drop the low 16 bits. NaN becomes the quiet NaN 0x7FC0.
inline __m256i float_to_bf16(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lowest_kept = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i bias = _mm512_add_epi32(lowest_kept, _mm512_set1_epi32(0x7FFF));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, bias), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  r = _mm512_mask_blend_epi32(nan, r, _mm512_set1_epi32(0x7FC0));
  return _mm512_cvtepi32_epi16(r);
}

// The coefficients, broadcast once per range.
struct Consts {
  explicit Consts(const Coeffs& c)
      : grad_divisor(_mm512_set1_ps(c.grad_divisor)),
        weight_decay(_mm512_set1_ps(c.weight_decay)),
        decay(_mm512_set1_ps(c.decay)),
        lerp_coeff(_mm512_set1_ps(c.lerp_coeff)),
        beta2(_mm512_set1_ps(c.beta2)),
        one_minus_beta2(_mm512_set1_ps(c.one_minus_beta2)),
        bc2_sqrt(_mm512_set1_ps(c.bias_correction2_sqrt)),
        eps(_mm512_set1_ps(c.eps)),
        neg_step_size(_mm512_set1_ps(c.neg_step_size)) {}
  __m512 grad_divisor, weight_decay, decay, lerp_coeff, beta2, one_minus_beta2, bc2_sqrt, eps,
      neg_step_size;
};

// Updates the 16 elements at i; lanes outside `mask` are neither read nor written. kMasked = false
// is the full-block case: plain loads and stores (masked stores are slow on some CPUs).
// kStream writes the 16-bit copy with non-temporal stores (it must be 32-byte aligned).
template <CpuDtype kGrad, Out16 kOut, bool kMasked, bool kStream = false>
inline void block(const CpuAdamArgs& a, const Coeffs& c, const Consts& k, int64_t i, __mmask16 mask) {
  __m512 p = kMasked ? _mm512_maskz_loadu_ps(mask, a.param + i) : _mm512_loadu_ps(a.param + i);
  __m512 g = load_grad<kGrad, kMasked>(a.grad, i, mask);
  if (c.divide) g = _mm512_div_ps(g, k.grad_divisor);
  if (c.l2) g = _mm512_fmadd_ps(p, k.weight_decay, g);
  if (c.decay_param) p = _mm512_mul_ps(p, k.decay);
  __m512 m = kMasked ? _mm512_maskz_loadu_ps(mask, a.exp_avg + i) : _mm512_loadu_ps(a.exp_avg + i);
  m = _mm512_fmadd_ps(k.lerp_coeff, _mm512_sub_ps(g, m), c.lerp_from_m ? m : g);
  __m512 v = kMasked ? _mm512_maskz_loadu_ps(mask, a.exp_avg_sq + i) : _mm512_loadu_ps(a.exp_avg_sq + i);
  v = _mm512_fmadd_ps(_mm512_mul_ps(k.one_minus_beta2, g), g, _mm512_mul_ps(v, k.beta2));
  const __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(v), k.bc2_sqrt), k.eps);
  p = _mm512_add_ps(p, _mm512_div_ps(_mm512_mul_ps(k.neg_step_size, m), denom));
  if constexpr (kMasked) {
    _mm512_mask_storeu_ps(a.exp_avg + i, mask, m);
    _mm512_mask_storeu_ps(a.exp_avg_sq + i, mask, v);
    _mm512_mask_storeu_ps(a.param + i, mask, p);
  } else {
    _mm512_storeu_ps(a.exp_avg + i, m);
    _mm512_storeu_ps(a.exp_avg_sq + i, v);
    _mm512_storeu_ps(a.param + i, p);
  }
  if constexpr (kOut != Out16::kNone) {
    const __m256i h = kOut == Out16::kBFloat16 ? float_to_bf16(p)
                                               : _mm512_cvtps_ph(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    uint16_t* out = static_cast<uint16_t*>(a.param16) + i;
    if constexpr (kMasked) {
      _mm256_mask_storeu_epi16(out, mask, h);
    } else if constexpr (kStream) {
      _mm256_stream_si256(reinterpret_cast<__m256i*>(out), h);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), h);
    }
  }
}

template <CpuDtype kGrad, Out16 kOut>
void run(const CpuAdamArgs& a, const Coeffs& c, int64_t begin, int64_t end) {
  const Consts k(c);
  int64_t i = begin;
  // The 16-bit copy is only read later by a device copy: stream it past the caches when the
  // destination is 32-byte aligned (a slice starts on a 16-element boundary).
  const bool stream = kOut != Out16::kNone &&
                      reinterpret_cast<uintptr_t>(static_cast<uint16_t*>(a.param16) + begin) % 32 == 0;
  if (stream) {
    for (; i + 16 <= end; i += 16) block<kGrad, kOut, false, true>(a, c, k, i, 0xFFFF);
    _mm_sfence();
  }
  for (; i + 16 <= end; i += 16) block<kGrad, kOut, false>(a, c, k, i, 0xFFFF);
  if (i < end) block<kGrad, kOut, true>(a, c, k, i, static_cast<__mmask16>((1u << (end - i)) - 1));
}

template <CpuDtype kGrad>
void run_grad(const CpuAdamArgs& a, const Coeffs& c, int64_t begin, int64_t end) {
  if (!a.param16) return run<kGrad, Out16::kNone>(a, c, begin, end);
  if (a.param16_dtype == CpuDtype::kBFloat16) return run<kGrad, Out16::kBFloat16>(a, c, begin, end);
  return run<kGrad, Out16::kFloat16>(a, c, begin, end);
}

}  // namespace

void adam_range_avx512(const CpuAdamArgs& a, const Coeffs& c, int64_t begin, int64_t end) {
  switch (a.grad_dtype) {
    case CpuDtype::kFloat32: return run_grad<CpuDtype::kFloat32>(a, c, begin, end);
    case CpuDtype::kBFloat16: return run_grad<CpuDtype::kBFloat16>(a, c, begin, end);
    case CpuDtype::kFloat16: return run_grad<CpuDtype::kFloat16>(a, c, begin, end);
  }
}

}  // namespace zs::cpu_adam_detail
