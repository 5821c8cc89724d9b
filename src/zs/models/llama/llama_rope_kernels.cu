// Rotary embeddings in one pass over the activations, forward and backward, with the same bits as
// the ATen formula in llama_rope.cpp (x * cos + roll(x, half) * signed_sin, each product rounded to
// the activations' dtype, then the sum rounded): products and the sum are computed in float with
// explicit round-to-nearest operations (no fused multiply-add), then rounded to the dtype, which
// is exactly what ATen's 16-bit elementwise kernels do.
//
// The pairs of rotate_half are (d, d + half); with head_dim a multiple of 16, the 8 elements a
// thread handles at d0 (a multiple of 8) pair with the 8 at d0 ± half, so every load and store is
// one 16-byte vector (two for float32).
#include "zs/models/llama/llama_rope_kernels.hpp"

#include "zs/kernels/vec8.cuh"

namespace zs::kernels {
namespace {

constexpr int kLanes = kVec8;  // elements per thread

template <typename T>
struct Lanes {
  float v[kLanes];

  __device__ __forceinline__ void load(const T* p) { load8(p, v); }
  __device__ __forceinline__ void store(T* p) const { store8(p, v); }
  // a * b as the dtype's own multiply gives it: the float product rounded to T.
  static __device__ __forceinline__ float mul(float a, float b) { return widen(narrow<T>(__fmul_rn(a, b))); }
};

template <typename T>
__global__ void rotary_kernel(const T* __restrict__ x, RopeShape s, const T* __restrict__ cos,
                              const T* __restrict__ sin, T* __restrict__ out, bool backward, int64_t groups) {
  const int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (g >= groups) return;
  const int64_t per_head = s.head_dim / kLanes;
  const int64_t d0 = (g % per_head) * kLanes;
  int64_t rest = g / per_head;
  const int64_t h = rest % s.heads;
  rest /= s.heads;
  const int64_t t = rest % s.seq;
  const int64_t b = rest / s.seq;
  const int64_t half = s.head_dim / 2;
  const int64_t partner = d0 < half ? d0 + half : d0 - half;

  const T* row = x + b * s.stride_batch + t * s.stride_seq + h * s.stride_head;
  Lanes<T> mine, other, c, sn;
  mine.load(row + d0);
  other.load(row + partner);
  c.load(cos + t * s.head_dim + d0);
  // Forward: rotate_half(x)[d] = -x[d + half] for d < half, x[d - half] after, so the partner's
  // value is multiplied by sin[d] with that sign. Backward (the transpose): the gradient at d
  // receives the partner's gradient times sin[partner] with the partner's sign.
  const int64_t sin_at = backward ? partner : d0;
  sn.load(sin + t * s.head_dim + sin_at);
  const float sign = (sin_at < half) ? -1.f : 1.f;

  Lanes<T> result;
#pragma unroll
  for (int j = 0; j < kLanes; ++j) {
    const float straight = Lanes<T>::mul(mine.v[j], c.v[j]);
    const float rotated = Lanes<T>::mul(other.v[j], sign * sn.v[j]);
    result.v[j] = __fadd_rn(straight, rotated);
  }
  result.store(out + ((b * s.seq + t) * s.heads + h) * s.head_dim + d0);
}

template <typename T>
void launch(const void* x, const RopeShape& s, const void* cos, const void* sin, void* out, bool backward,
            cudaStream_t stream) {
  const int64_t groups = s.batch * s.seq * s.heads * (s.head_dim / kLanes);
  if (groups == 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = (groups + kThreads - 1) / kThreads;
  rotary_kernel<T><<<unsigned(blocks), kThreads, 0, stream>>>(
      static_cast<const T*>(x), s, static_cast<const T*>(cos), static_cast<const T*>(sin), static_cast<T*>(out),
      backward, groups);
}

}  // namespace

void launch_rotary(const void* x, const RopeShape& shape, const void* cos, const void* sin, void* out,
                   FloatKind kind, bool backward, cudaStream_t stream) {
  switch (kind) {
    case FloatKind::f32: return launch<float>(x, shape, cos, sin, out, backward, stream);
    case FloatKind::bf16: return launch<__nv_bfloat16>(x, shape, cos, sin, out, backward, stream);
    case FloatKind::f16: return launch<__half>(x, shape, cos, sin, out, backward, stream);
  }
}

}  // namespace zs::kernels
