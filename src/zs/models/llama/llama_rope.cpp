#include "zs/models/llama/llama_rope.hpp"

#include <cmath>

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/outer.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/reciprocal.h>
#include <ATen/ops/roll.h>
#include <ATen/ops/where.h>
#include <c10/core/GradMode.h>

#ifdef ZS_WITH_CUDA
#include "zs/models/llama/llama_rope_cuda.hpp"
#endif

namespace zs {

at::Tensor rope_inverse_frequencies(const LlamaConfig& config, c10::Device device) {
  c10::NoGradGuard no_grad;
  const int64_t dim = config.resolved_head_dim();
  const auto fp32 = at::TensorOptions().dtype(at::kFloat).device(device);
  // theta^(-2i/d), in fp32 and in this order of operations, so the tables equal Hugging Face's.
  at::Tensor inv_freq = at::reciprocal(at::pow(config.rope_theta, at::arange(0, dim, 2, fp32) / double(dim)));
  const RopeScaling& s = config.rope_scaling;
  if (s.type != "llama3") return inv_freq;

  const double old_context = double(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  const at::Tensor wavelen = at::reciprocal(inv_freq) * (2 * M_PI);
  // Long wavelengths (low frequencies) are slowed down by `factor`, short ones kept ...
  at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  // ... and the band between moves smoothly from one to the other.
  const at::Tensor smooth = (at::reciprocal(wavelen) * old_context - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  const at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  const at::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return at::where(medium, smoothed, scaled);
}

RopeTables rope_tables(const LlamaConfig& config, int64_t T, at::ScalarType dtype, c10::Device device) {
  c10::NoGradGuard no_grad;
  const at::Tensor inv_freq = rope_inverse_frequencies(config, device);
  const at::Tensor positions = at::arange(T, at::TensorOptions().dtype(at::kFloat).device(device));
  const at::Tensor freqs = at::outer(positions, inv_freq);   // [T, head_dim / 2]
  const at::Tensor angles = at::cat({freqs, freqs}, /*dim=*/-1);
  return {angles.cos().to(dtype), angles.sin().to(dtype)};
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
#ifdef ZS_WITH_CUDA
  if (fused_rotary_applies(x, cos, sin)) return apply_rotary_fused(x, cos, sin);
#endif
  return apply_rotary_reference(x, cos, sin);
}

at::Tensor apply_rotary_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  // rotate_half(x) * sin = (x2, x1) * (-sin1, sin2): the sign goes on the small [T, head_dim]
  // table rather than on x (one kernel less over the activations, the same values bit for bit).
  // Tables as [T, 1, head_dim], broadcast over x's heads: x stays in the projection's own contiguous
  // layout, where these are vectorised kernels (on the [B, heads, T, head_dim] view they were strided
  // ones, and roll copied x to contiguous first).
  const int64_t half = x.size(-1) / 2;
  const at::Tensor signed_sin = at::cat({-sin.slice(-1, 0, half), sin.slice(-1, half)}, /*dim=*/-1).unsqueeze(1);
  return x * cos.unsqueeze(1) + at::roll(x, {half}, {-1}) * signed_sin;
}

}  // namespace zs
