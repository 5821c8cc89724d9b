// Rotary embeddings in one pass over the activations, forward and backward, with the same bits as
// the ATen formula in llama_rope.cpp (x * cos + roll(x, half) * signed_sin, each product rounded to
// the activations' dtype, then the sum rounded): products and the sum are computed in float with
// explicit round-to-nearest operations (no fused multiply-add), then rounded to the dtype, which
// is exactly what ATen's 16-bit elementwise kernels do.
//
// The pairs of rotate_half are (d, d + half); with head_dim a multiple of 16, the 8 elements at d0
// (a multiple of 8 below half) pair with the 8 at d0 + half, so every load and store is one
// 16-byte vector (two for float32).
#include "zs/models/llama/llama_rope_kernels.hpp"

#include <algorithm>

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

// One thread per pair of 8-element groups (d0, d0 + half) of one head in one row (b, t): it reads
// each element once and writes both outputs. Forward: out[d] = x[d] cos[d] - x[d + half] sin[d] in
// the first half, x[d] cos[d] + x[d - half] sin[d] in the second. Backward (the transpose): the
// partner's gradient is multiplied by the partner's sin, with the partner's sign. Rows run along
// the grid's x (any count), the row's pairs along its y and the block.
template <typename T>
__global__ void rotary_kernel(const T* __restrict__ x, RopeShape s, const T* __restrict__ cos,
                              const T* __restrict__ sin, T* __restrict__ out, bool backward, int pairs_per_row) {
  const int i = int(blockIdx.y) * int(blockDim.x) + int(threadIdx.x);
  if (i >= pairs_per_row) return;
  const int64_t row = blockIdx.x;  // b * seq + t
  const int64_t b = row / s.seq, t = row - b * s.seq;
  const int half = int(s.head_dim / 2), pairs_per_head = half / kLanes;
  const int h = i / pairs_per_head;
  const int lo = (i - h * pairs_per_head) * kLanes, hi = lo + half;

  const T* in = x + b * s.stride_batch + t * s.stride_seq + h * s.stride_head;
  const T* cos_t = cos + t * s.head_dim;
  const T* sin_t = sin + t * s.head_dim;
  Lanes<T> x_lo, x_hi, c_lo, c_hi, s_lo, s_hi;
  x_lo.load(in + lo);
  x_hi.load(in + hi);
  c_lo.load(cos_t + lo);
  c_hi.load(cos_t + hi);
  s_lo.load(sin_t + lo);
  s_hi.load(sin_t + hi);

  Lanes<T> o_lo, o_hi;
#pragma unroll
  for (int j = 0; j < kLanes; ++j) {
    const float lo_partner = backward ? s_hi.v[j] : -s_lo.v[j];  // what x_hi is multiplied by in o_lo
    const float hi_partner = backward ? -s_lo.v[j] : s_hi.v[j];  // what x_lo is multiplied by in o_hi
    o_lo.v[j] = __fadd_rn(Lanes<T>::mul(x_lo.v[j], c_lo.v[j]), Lanes<T>::mul(x_hi.v[j], lo_partner));
    o_hi.v[j] = __fadd_rn(Lanes<T>::mul(x_hi.v[j], c_hi.v[j]), Lanes<T>::mul(x_lo.v[j], hi_partner));
  }
  T* o = out + (row * s.heads + h) * s.head_dim;
  o_lo.store(o + lo);
  o_hi.store(o + hi);
}

template <typename T>
void launch(const void* x, const RopeShape& s, const void* cos, const void* sin, void* out, bool backward,
            cudaStream_t stream) {
  const int64_t rows = s.batch * s.seq;
  const int pairs_per_row = int(s.heads * (s.head_dim / 2 / kLanes));
  if (rows == 0 || pairs_per_row == 0) return;
  const int threads = std::min(256, (pairs_per_row + 31) / 32 * 32);
  const dim3 grid(unsigned(rows), unsigned((pairs_per_row + threads - 1) / threads));
  rotary_kernel<T><<<grid, threads, 0, stream>>>(static_cast<const T*>(x), s, static_cast<const T*>(cos),
                                                 static_cast<const T*>(sin), static_cast<T*>(out), backward,
                                                 pairs_per_row);
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
