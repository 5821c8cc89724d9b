// SwiGLU forward and backward, elementwise: 16-byte vectors of 8 elements where every array is
// aligned (the tensors' usual case), one element at a time otherwise and for the last n % 8.
#include "zs/models/llama/swiglu_kernels.hpp"

#include <algorithm>

#include "zs/kernels/multiprocessors.hpp"
#include "zs/kernels/vec8.cuh"

namespace zs::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;

// silu(x) = x / (1 + exp(-x)), and its backward, as ATen's CUDA kernels write them.
__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }
__device__ __forceinline__ float silu_backward(float dy, float x) {
  const float sigmoid = 1.f / (1.f + expf(-x));
  return dy * sigmoid * (1.f + x * (1.f - sigmoid));
}

template <typename T>
__device__ __forceinline__ float rounded(float x) {
  return widen(narrow<T>(x));
}

template <typename T>
__device__ __forceinline__ void forward_one(float g, float u, float& out) {
  out = rounded<T>(silu(g)) * u;
}

template <typename T>
__device__ __forceinline__ void backward_one(float d, float g, float u, float& dg, float& du) {
  du = d * rounded<T>(silu(g));
  dg = silu_backward(rounded<T>(d * u), g);
}

template <typename T, bool kVector>
__global__ void __launch_bounds__(kThreads) swiglu_forward(const T* __restrict__ gate, const T* __restrict__ up,
                                                           T* __restrict__ out, int64_t n) {
  const int64_t first = int64_t(blockIdx.x) * kThreads + threadIdx.x, stride = int64_t(gridDim.x) * kThreads;
  const int64_t vectors = kVector ? n / kVec8 : 0;
  for (int64_t k = first; k < vectors; k += stride) {
    float g[kVec8], u[kVec8], o[kVec8];
    load8(gate + k * kVec8, g);
    load8(up + k * kVec8, u);
#pragma unroll
    for (int j = 0; j < kVec8; ++j) forward_one<T>(g[j], u[j], o[j]);
    store8(out + k * kVec8, o);
  }
  for (int64_t i = vectors * kVec8 + first; i < n; i += stride) {
    float o;
    forward_one<T>(widen(gate[i]), widen(up[i]), o);
    out[i] = narrow<T>(o);
  }
}

template <typename T, bool kVector>
__global__ void __launch_bounds__(kThreads) swiglu_backward(const T* __restrict__ dout, const T* __restrict__ gate,
                                                            const T* __restrict__ up, T* __restrict__ dgate,
                                                            T* __restrict__ dup, int64_t n) {
  const int64_t first = int64_t(blockIdx.x) * kThreads + threadIdx.x, stride = int64_t(gridDim.x) * kThreads;
  const int64_t vectors = kVector ? n / kVec8 : 0;
  for (int64_t k = first; k < vectors; k += stride) {
    float d[kVec8], g[kVec8], u[kVec8], dg[kVec8], du[kVec8];
    load8(dout + k * kVec8, d);
    load8(gate + k * kVec8, g);
    load8(up + k * kVec8, u);
#pragma unroll
    for (int j = 0; j < kVec8; ++j) backward_one<T>(d[j], g[j], u[j], dg[j], du[j]);
    store8(dgate + k * kVec8, dg);
    store8(dup + k * kVec8, du);
  }
  for (int64_t i = vectors * kVec8 + first; i < n; i += stride) {
    float dg, du;
    backward_one<T>(widen(dout[i]), widen(gate[i]), widen(up[i]), dg, du);
    dgate[i] = narrow<T>(dg);
    dup[i] = narrow<T>(du);
  }
}

bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

unsigned blocks_for(int64_t n) {
  const int64_t wanted = (n / kVec8 + kThreads - 1) / kThreads;
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(wanted, int64_t(multiprocessors()) * kBlocksPerSm)));
}

template <typename T>
void forward_typed(const void* gate, const void* up, void* out, int64_t n, cudaStream_t stream) {
  const auto* g = static_cast<const T*>(gate);
  const auto* u = static_cast<const T*>(up);
  auto* o = static_cast<T*>(out);
  if (aligned(gate) && aligned(up) && aligned(out))
    swiglu_forward<T, true><<<blocks_for(n), kThreads, 0, stream>>>(g, u, o, n);
  else
    swiglu_forward<T, false><<<blocks_for(n * kVec8), kThreads, 0, stream>>>(g, u, o, n);
}

template <typename T>
void backward_typed(const void* dout, const void* gate, const void* up, void* dgate, void* dup, int64_t n,
                    cudaStream_t stream) {
  const auto* d = static_cast<const T*>(dout);
  const auto* g = static_cast<const T*>(gate);
  const auto* u = static_cast<const T*>(up);
  auto* dg = static_cast<T*>(dgate);
  auto* du = static_cast<T*>(dup);
  if (aligned(dout) && aligned(gate) && aligned(up) && aligned(dgate) && aligned(dup))
    swiglu_backward<T, true><<<blocks_for(n), kThreads, 0, stream>>>(d, g, u, dg, du, n);
  else
    swiglu_backward<T, false><<<blocks_for(n * kVec8), kThreads, 0, stream>>>(d, g, u, dg, du, n);
}

}  // namespace

void launch_swiglu_forward(const void* gate, const void* up, void* out, int64_t n, FloatKind kind,
                           cudaStream_t stream) {
  if (n == 0) return;
  switch (kind) {
    case FloatKind::f32: return forward_typed<float>(gate, up, out, n, stream);
    case FloatKind::bf16: return forward_typed<__nv_bfloat16>(gate, up, out, n, stream);
    case FloatKind::f16: return forward_typed<__half>(gate, up, out, n, stream);
  }
}

void launch_swiglu_backward(const void* dout, const void* gate, const void* up, void* dgate, void* dup, int64_t n,
                            FloatKind kind, cudaStream_t stream) {
  if (n == 0) return;
  switch (kind) {
    case FloatKind::f32: return backward_typed<float>(dout, gate, up, dgate, dup, n, stream);
    case FloatKind::bf16: return backward_typed<__nv_bfloat16>(dout, gate, up, dgate, dup, n, stream);
    case FloatKind::f16: return backward_typed<__half>(dout, gate, up, dgate, dup, n, stream);
  }
}

}  // namespace zs::kernels
