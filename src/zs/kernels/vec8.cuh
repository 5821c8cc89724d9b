// Eight consecutive elements as one 16-byte vector (two for float32), or N of them in 8- or 16-byte
// words (load_n / store_n), widened to float for the arithmetic and rounded back to nearest (even),
// as LibTorch's own kernels round. Shared by our CUDA kernels (rotary embeddings, fused Adam, the
// block quantizer, LayerNorm). nvcc only.
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

// N consecutive elements loaded as 16-byte words (8-byte ones when N * sizeof(T) is 8); p must be
// aligned to that word.
template <int N, typename T>
__device__ __forceinline__ void load_n(const T* p, float (&out)[N]) {
  constexpr int kBytes = N * int(sizeof(T));
  static_assert(kBytes % 8 == 0, "whole 8- or 16-byte words");
  using Word = std::conditional_t<kBytes % 16 == 0, uint4, uint2>;
  Word raw[kBytes / sizeof(Word)];
#pragma unroll
  for (int w = 0; w < int(kBytes / sizeof(Word)); ++w) raw[w] = reinterpret_cast<const Word*>(p)[w];
  const T* t = reinterpret_cast<const T*>(raw);
#pragma unroll
  for (int j = 0; j < N; ++j) out[j] = widen(t[j]);
}

template <int N, typename T>
__device__ __forceinline__ void store_n(T* p, const float (&in)[N]) {
  constexpr int kBytes = N * int(sizeof(T));
  static_assert(kBytes % 8 == 0, "whole 8- or 16-byte words");
  using Word = std::conditional_t<kBytes % 16 == 0, uint4, uint2>;
  Word raw[kBytes / sizeof(Word)];
  T* t = reinterpret_cast<T*>(raw);
#pragma unroll
  for (int j = 0; j < N; ++j) t[j] = narrow<T>(in[j]);
#pragma unroll
  for (int w = 0; w < int(kBytes / sizeof(Word)); ++w) reinterpret_cast<Word*>(p)[w] = raw[w];
}

// p must be 16-byte aligned.
template <typename T>
__device__ __forceinline__ void load8(const T* p, float (&out)[kVec8]) {
  load_n<kVec8>(p, out);
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
  store_n<kVec8>(p, in);
}

}  // namespace zs::kernels
