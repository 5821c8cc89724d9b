// GELU by table (gelu_kernels.hpp): each block copies its table into shared memory once, then
// streams 16-byte vectors of 8 elements (one element at a time where an array is not 16-byte
// aligned, and for the last n % 8). Inputs outside the table take ATen's formula.
#include "zs/models/gpt/gelu_kernels.hpp"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>

#include "zs/kernels/multiprocessors.hpp"

namespace zs::kernels {
namespace {

constexpr int kThreads = 1024;
constexpr float kAlpha = float(M_SQRT1_2);                      // 1 / sqrt(2)
constexpr float kBeta = float(M_2_SQRTPI * M_SQRT1_2 * 0.5);    // 1 / sqrt(2 pi)

__device__ __forceinline__ float bf16_bits_to_float(uint16_t bits) { return __uint_as_float(uint32_t(bits) << 16); }
__device__ __forceinline__ uint16_t float_to_bf16_bits(float x) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

// The table index of a value's bits, or -1 outside the table.
__device__ __forceinline__ int table_index(uint16_t bits) {
  const int offset = (bits & 0x7fff) - kGeluTableLow;
  if (unsigned(offset) >= unsigned(kGeluTableHalf)) return -1;
  return (bits & 0x8000) ? kGeluTableHalf + offset : offset;
}

// ATen's formulas, for the values outside the table.
__device__ __forceinline__ float gelu_formula(float x) { return x * 0.5f * (1.f + erff(x * kAlpha)); }
__device__ __forceinline__ float gelu_factor_formula(float x) {
  const float cdf = 0.5f * (1.f + erff(x * kAlpha));
  const float pdf = expf(-0.5f * x * x) * kBeta;
  return cdf + x * pdf;
}

__device__ __forceinline__ uint16_t forward_one(uint16_t x, const uint16_t* table) {
  const int i = table_index(x);
  return i >= 0 ? table[i] : float_to_bf16_bits(gelu_formula(bf16_bits_to_float(x)));
}

__device__ __forceinline__ uint16_t backward_one(uint16_t dy, uint16_t x, const float* table) {
  const int i = table_index(x);
  const float factor = i >= 0 ? table[i] : gelu_factor_formula(bf16_bits_to_float(x));
  return float_to_bf16_bits(bf16_bits_to_float(dy) * factor);
}

// The block's copy of the table in its dynamic shared memory, once every thread has written its part.
template <typename Entry>
__device__ __forceinline__ const Entry* shared_table(const Entry* global) {
  extern __shared__ uint4 shared_words[];
  constexpr int kWords = kGeluTableSize * int(sizeof(Entry)) / 16;
  static_assert(kGeluTableSize * sizeof(Entry) % 16 == 0, "whole 16-byte words");
  for (int w = threadIdx.x; w < kWords; w += blockDim.x) shared_words[w] = reinterpret_cast<const uint4*>(global)[w];
  __syncthreads();
  return reinterpret_cast<const Entry*>(shared_words);
}

// A grid-stride loop's start and stride over 16-byte vectors (all of n when kVector), then over the
// elements left.
struct GridStride {
  int64_t first, stride, vectors;
  __device__ GridStride(int64_t n, bool vector)
      : first(int64_t(blockIdx.x) * kThreads + threadIdx.x), stride(int64_t(gridDim.x) * kThreads),
        vectors(vector ? n / 8 : 0) {}
};

union Vec8 {
  uint4 word;
  uint16_t e[8];
};

template <bool kVector>
__global__ void __launch_bounds__(kThreads) gelu_forward(const uint16_t* __restrict__ x, uint16_t* __restrict__ y,
                                                         int64_t n, const uint16_t* __restrict__ table_global) {
  const uint16_t* table = shared_table(table_global);
  const GridStride g(n, kVector);
  for (int64_t k = g.first; k < g.vectors; k += g.stride) {
    Vec8 in, out;
    in.word = reinterpret_cast<const uint4*>(x)[k];
#pragma unroll
    for (int j = 0; j < 8; ++j) out.e[j] = forward_one(in.e[j], table);
    reinterpret_cast<uint4*>(y)[k] = out.word;
  }
  for (int64_t i = g.vectors * 8 + g.first; i < n; i += g.stride) y[i] = forward_one(x[i], table);
}

template <bool kVector>
__global__ void __launch_bounds__(kThreads) gelu_backward(const uint16_t* __restrict__ dy,
                                                          const uint16_t* __restrict__ x, uint16_t* __restrict__ dx,
                                                          int64_t n, const float* __restrict__ table_global) {
  const float* table = shared_table(table_global);
  const GridStride g(n, kVector);
  for (int64_t k = g.first; k < g.vectors; k += g.stride) {
    Vec8 d, v, out;
    d.word = reinterpret_cast<const uint4*>(dy)[k];
    v.word = reinterpret_cast<const uint4*>(x)[k];
#pragma unroll
    for (int j = 0; j < 8; ++j) out.e[j] = backward_one(d.e[j], v.e[j], table);
    reinterpret_cast<uint4*>(dx)[k] = out.word;
  }
  for (int64_t i = g.vectors * 8 + g.first; i < n; i += g.stride) dx[i] = backward_one(dy[i], x[i], table);
}

bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// As many blocks as the shared memory lets each multiprocessor hold, fewer for small tensors.
template <typename Kernel>
unsigned blocks_for(Kernel kernel, size_t shared_bytes, int64_t items) {
  // Both tables fit the 48 KiB a kernel gets without asking; a larger one would need
  // cudaFuncAttributeMaxDynamicSharedMemorySize set first.
  static_assert(kGeluTableSize * sizeof(float) <= 48 * 1024, "the tables fit the default shared memory");
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, shared_bytes) != cudaSuccess)
    per_sm = 1;
  const int64_t wanted = (items + kThreads - 1) / kThreads;
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(wanted, int64_t(multiprocessors()) * std::max(1, per_sm))));
}

}  // namespace

void launch_gelu_forward_bf16(const void* x, void* y, int64_t n, const void* table, cudaStream_t stream) {
  if (n == 0) return;
  const auto* in = static_cast<const uint16_t*>(x);
  auto* out = static_cast<uint16_t*>(y);
  const auto* t = static_cast<const uint16_t*>(table);
  const size_t bytes = kGeluTableSize * sizeof(uint16_t);
  if (aligned(x) && aligned(y))
    gelu_forward<true><<<blocks_for(gelu_forward<true>, bytes, n / 8), kThreads, bytes, stream>>>(in, out, n, t);
  else
    gelu_forward<false><<<blocks_for(gelu_forward<false>, bytes, n), kThreads, bytes, stream>>>(in, out, n, t);
}

void launch_gelu_backward_bf16(const void* dy, const void* x, void* dx, int64_t n, const float* table,
                               cudaStream_t stream) {
  if (n == 0) return;
  const auto* d = static_cast<const uint16_t*>(dy);
  const auto* in = static_cast<const uint16_t*>(x);
  auto* out = static_cast<uint16_t*>(dx);
  const size_t bytes = kGeluTableSize * sizeof(float);
  if (aligned(dy) && aligned(x) && aligned(dx))
    gelu_backward<true><<<blocks_for(gelu_backward<true>, bytes, n / 8), kThreads, bytes, stream>>>(d, in, out, n, table);
  else
    gelu_backward<false><<<blocks_for(gelu_backward<false>, bytes, n), kThreads, bytes, stream>>>(d, in, out, n, table);
}

}  // namespace zs::kernels
