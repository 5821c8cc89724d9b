// The AVX2 flavour of the CPU Adam (needs AVX2, FMA and F16C; compiled with those -m flags, used
// only where the CPU has them). 8 elements per iteration; the last partial block is copied into
// zero-padded stack buffers and run through the same code, so every element takes one path.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "zs/optim/cpu_adam_kernels.hpp"

namespace zs::cpu_adam_detail {
namespace {

enum class Out16 { kNone, kBFloat16, kFloat16 };

constexpr size_t grad_bytes(CpuDtype d) { return d == CpuDtype::kFloat32 ? 4 : 2; }

template <CpuDtype kGrad>
inline __m256 load_grad(const void* grad) {
  if constexpr (kGrad == CpuDtype::kFloat32) {
    return _mm256_loadu_ps(static_cast<const float*>(grad));
  } else {
    const __m128i h = _mm_loadu_si128(static_cast<const __m128i*>(grad));
    if constexpr (kGrad == CpuDtype::kBFloat16) {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    } else {
      return _mm256_cvtph_ps(h);
    }
  }
}

// fp32 -> bf16, round to nearest even, with integer ops (see the AVX-512 flavour).
inline __m128i float_to_bf16(__m256 x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i lowest_kept = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i bias = _mm256_add_epi32(lowest_kept, _mm256_set1_epi32(0x7FFF));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  r = _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7FC0), nan);
  // Every lane is <= 0xFFFF, so the unsigned saturating pack keeps it exactly.
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

struct Consts {
  explicit Consts(const Coeffs& c)
      : grad_divisor(_mm256_set1_ps(c.grad_divisor)),
        weight_decay(_mm256_set1_ps(c.weight_decay)),
        decay(_mm256_set1_ps(c.decay)),
        lerp_coeff(_mm256_set1_ps(c.lerp_coeff)),
        beta2(_mm256_set1_ps(c.beta2)),
        one_minus_beta2(_mm256_set1_ps(c.one_minus_beta2)),
        bc2_sqrt(_mm256_set1_ps(c.bias_correction2_sqrt)),
        eps(_mm256_set1_ps(c.eps)),
        neg_step_size(_mm256_set1_ps(c.neg_step_size)) {}
  __m256 grad_divisor, weight_decay, decay, lerp_coeff, beta2, one_minus_beta2, bc2_sqrt, eps,
      neg_step_size;
};

// Updates 8 elements at the given addresses.
template <CpuDtype kGrad, Out16 kOut, bool kStream = false>
inline void block(float* param, const void* grad, float* exp_avg, float* exp_avg_sq, void* out,
                  const Coeffs& c, const Consts& k) {
  __m256 p = _mm256_loadu_ps(param);
  __m256 g = load_grad<kGrad>(grad);
  if (c.divide) g = _mm256_div_ps(g, k.grad_divisor);
  if (c.l2) g = _mm256_fmadd_ps(p, k.weight_decay, g);
  if (c.decay_param) p = _mm256_mul_ps(p, k.decay);
  __m256 m = _mm256_loadu_ps(exp_avg);
  m = _mm256_fmadd_ps(k.lerp_coeff, _mm256_sub_ps(g, m), c.lerp_from_m ? m : g);
  __m256 v = _mm256_loadu_ps(exp_avg_sq);
  v = _mm256_fmadd_ps(_mm256_mul_ps(k.one_minus_beta2, g), g, _mm256_mul_ps(v, k.beta2));
  _mm256_storeu_ps(exp_avg, m);
  _mm256_storeu_ps(exp_avg_sq, v);
  const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), k.bc2_sqrt), k.eps);
  p = _mm256_add_ps(p, _mm256_div_ps(_mm256_mul_ps(k.neg_step_size, m), denom));
  _mm256_storeu_ps(param, p);
  if constexpr (kOut != Out16::kNone) {
    const __m128i h = kOut == Out16::kBFloat16 ? float_to_bf16(p)
                                               : _mm256_cvtps_ph(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if constexpr (kStream) {
      _mm_stream_si128(static_cast<__m128i*>(out), h);
    } else {
      _mm_storeu_si128(static_cast<__m128i*>(out), h);
    }
  }
}

template <CpuDtype kGrad, Out16 kOut>
void run(const CpuAdamArgs& a, const Coeffs& c, int64_t begin, int64_t end) {
  const Consts k(c);
  constexpr size_t gb = grad_bytes(kGrad);
  const char* grad = static_cast<const char*>(a.grad);
  char* out = static_cast<char*>(a.param16);
  int64_t i = begin;
  // The 16-bit copy is only read later by a device copy: stream it past the caches when the
  // destination is 16-byte aligned (a slice starts on a 16-element boundary).
  if (out && reinterpret_cast<uintptr_t>(out + begin * 2) % 16 == 0) {
    for (; i + 8 <= end; i += 8) {
      block<kGrad, kOut, true>(a.param + i, grad + i * gb, a.exp_avg + i, a.exp_avg_sq + i, out + i * 2, c, k);
    }
    _mm_sfence();
  }
  for (; i + 8 <= end; i += 8) {
    block<kGrad, kOut>(a.param + i, grad + i * gb, a.exp_avg + i, a.exp_avg_sq + i,
                       out ? out + i * 2 : nullptr, c, k);
  }
  if (i == end) return;
  // Tail: fewer than 8 elements, through zero-padded copies.
  const size_t n = static_cast<size_t>(end - i);
  alignas(32) float p[8] = {}, m[8] = {}, v[8] = {};
  alignas(32) char g[32] = {};
  alignas(16) char o[16] = {};
  std::memcpy(p, a.param + i, n * 4);
  std::memcpy(m, a.exp_avg + i, n * 4);
  std::memcpy(v, a.exp_avg_sq + i, n * 4);
  std::memcpy(g, grad + i * gb, n * gb);
  block<kGrad, kOut>(p, g, m, v, o, c, k);
  std::memcpy(a.param + i, p, n * 4);
  std::memcpy(a.exp_avg + i, m, n * 4);
  std::memcpy(a.exp_avg_sq + i, v, n * 4);
  if (out) std::memcpy(out + i * 2, o, n * 2);
}

template <CpuDtype kGrad>
void run_grad(const CpuAdamArgs& a, const Coeffs& c, int64_t begin, int64_t end) {
  if (!a.param16) return run<kGrad, Out16::kNone>(a, c, begin, end);
  if (a.param16_dtype == CpuDtype::kBFloat16) return run<kGrad, Out16::kBFloat16>(a, c, begin, end);
  return run<kGrad, Out16::kFloat16>(a, c, begin, end);
}

}  // namespace

void adam_range_avx2(const CpuAdamArgs& a, const Coeffs& c, int64_t begin, int64_t end) {
  switch (a.grad_dtype) {
    case CpuDtype::kFloat32: return run_grad<CpuDtype::kFloat32>(a, c, begin, end);
    case CpuDtype::kBFloat16: return run_grad<CpuDtype::kBFloat16>(a, c, begin, end);
    case CpuDtype::kFloat16: return run_grad<CpuDtype::kFloat16>(a, c, begin, end);
  }
}

}  // namespace zs::cpu_adam_detail
