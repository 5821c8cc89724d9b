// Eight consecutive elements as one 16-byte vector (two for float32), widened to float for the
// arithmetic and rounded back to nearest (even), as LibTorch's own kernels round. Shared by our
// CUDA kernels (rotary embeddings, fused Adam, the block quantizer). nvcc only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

namespace zs::kernels {

constexpr int kVec8 = 8;

__device__ __forceinline__ float widen(float x) { return x; }
__device__ __forceinline__ float widen(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float widen(__half x) { return __half2float(x); }

template <typename T>
__device__ __forceinline__ T narrow(float x) {
  if constexpr (std::is_same_v<T, float>) return x;
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16_rn(x);
  else return __float2half_rn(x);
}

// p must be 16-byte aligned.
template <typename T>
__device__ __forceinline__ void load8(const T* p, float (&out)[kVec8]) {
  constexpr int kWords = kVec8 * int(sizeof(T)) / 16;
  uint4 raw[kWords];
#pragma unroll
  for (int w = 0; w < kWords; ++w) raw[w] = reinterpret_cast<const uint4*>(p)[w];
  const T* t = reinterpret_cast<const T*>(raw);
#pragma unroll
  for (int j = 0; j < kVec8; ++j) out[j] = widen(t[j]);
}

// Values already in T; p must be 16-byte aligned.
template <typename T>
__device__ __forceinline__ void store8_raw(T* p, const T (&in)[kVec8]) {
  constexpr int kWords = kVec8 * int(sizeof(T)) / 16;
  uint4 raw[kWords];
  T* t = reinterpret_cast<T*>(raw);
#pragma unroll
  for (int j = 0; j < kVec8; ++j) t[j] = in[j];
#pragma unroll
  for (int w = 0; w < kWords; ++w) reinterpret_cast<uint4*>(p)[w] = raw[w];
}

template <typename T>
__device__ __forceinline__ void store8(T* p, const float (&in)[kVec8]) {
  T t[kVec8];
#pragma unroll
  for (int j = 0; j < kVec8; ++j) t[j] = narrow<T>(in[j]);
  store8_raw(p, t);
}

}  // namespace zs::kernels
