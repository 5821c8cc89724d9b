// Blockwise int8/int4 quantize and dequantize on the GPU, giving the same bits as BlockQuantizer's
// CPU loops: the same float32 operations in the same order (IEEE division and multiply, round half
// to even, round-to-nearest conversions to 16-bit), no fused multiply-adds.
//
// Quantize: one thread block per quantization block; each thread loads 8 elements at a time (one
// or two 16-byte loads), the block reduces max|x|, then each thread writes its 8 codes as one or
// two 32-bit stores. Dequantize: one thread per 8 elements, 32-bit loads of codes, 16-byte stores.
#include "zs/comm_codec/block_quantizer_kernels.hpp"

#include "zs/kernels/vec8.cuh"

namespace zs::kernels {
namespace {

constexpr int kVec = kVec8;  // elements per thread and step; block sizes are multiples of it

// The NaN a non-finite block restores as, in the bits the CPU writes (x86 keeps the scale's quiet
// NaN through the multiply; LibTorch's conversions give bf16 0x7fc0 and fp16 0x7e00), where the
// GPU's multiply and conversions would give their own canonical NaNs.
template <typename T> __device__ __forceinline__ T cpu_nan();
template <> __device__ __forceinline__ float cpu_nan<float>() { return __int_as_float(0x7fc00000); }
template <> __device__ __forceinline__ __nv_bfloat16 cpu_nan<__nv_bfloat16>() { return __ushort_as_bfloat16(0x7fc0); }
template <> __device__ __forceinline__ __half cpu_nan<__half>() { return __ushort_as_half(0x7e00); }

// x[i, i + 8) as floats: 16-byte loads when all 8 are in range and x is 16-byte aligned, else one
// by one with zeros past the end (the padding of the last block).
template <typename T>
__device__ __forceinline__ void load8_or_pad(const T* x, int64_t i, int64_t numel, bool aligned, float (&v)[kVec]) {
  if (aligned && i + kVec <= numel) {
    load8(x + i, v);
  } else {
#pragma unroll
    for (int j = 0; j < kVec; ++j) v[j] = i + j < numel ? widen(x[i + j]) : 0.f;
  }
}

// Max over the thread block of `value` and `or` of `flag`; every thread gets the result.
__device__ __forceinline__ void block_reduce(float& value, int& flag) {
  __shared__ float s_value[32];
  __shared__ int s_flag[32];
  for (int o = 16; o > 0; o >>= 1) {
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, o));
    flag |= __shfl_xor_sync(0xffffffffu, flag, o);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) {
    s_value[warp] = value;
    s_flag[warp] = flag;
  }
  __syncthreads();
  if (warp == 0) {
    value = lane < warps ? s_value[lane] : 0.f;
    flag = lane < warps ? s_flag[lane] : 0;
    for (int o = 16; o > 0; o >>= 1) {
      value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, o));
      flag |= __shfl_xor_sync(0xffffffffu, flag, o);
    }
    if (lane == 0) {
      s_value[0] = value;
      s_flag[0] = flag;
    }
  }
  __syncthreads();
  value = s_value[0];
  flag = s_flag[0];
}

template <typename T, int kBits>
__global__ void quantize_blocks_kernel(const T* x, int64_t numel, int64_t block_size, bool aligned, uint8_t* payload,
                                       float* scales) {
  const float qmax = kBits == 8 ? 127.f : 7.f;
  const int64_t begin = int64_t(blockIdx.x) * block_size;
  const int64_t step = int64_t(blockDim.x) * kVec;
  float amax = 0.f;
  int nonfinite = 0;
  for (int64_t off = int64_t(threadIdx.x) * kVec; off < block_size; off += step) {
    float v[kVec];
    load8_or_pad(x, begin + off, numel, aligned, v);
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      nonfinite |= !isfinite(v[j]);
      amax = fmaxf(amax, fabsf(v[j]));
    }
  }
  block_reduce(amax, nonfinite);
  const float inv = !nonfinite && amax > 0.f ? __fdiv_rn(qmax, amax) : 0.f;
  if (threadIdx.x == 0) scales[blockIdx.x] = nonfinite ? __int_as_float(0x7fc00000) : __fdiv_rn(amax, qmax);

  for (int64_t off = int64_t(threadIdx.x) * kVec; off < block_size; off += step) {
    float v[kVec];
    load8_or_pad(x, begin + off, numel, aligned, v);
    uint32_t code[kVec];
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      float q = rintf(__fmul_rn(v[j], inv));  // half to even, as the CPU's nearbyint
      q = q != q ? 0.f : fminf(qmax, fmaxf(-qmax, q));
      code[j] = kBits == 8 ? uint32_t(int(q)) & 0xFFu : uint32_t(int(q) + 8);
    }
    if (kBits == 8) {
      uint32_t* out = reinterpret_cast<uint32_t*>(payload + begin + off);
      out[0] = code[0] | code[1] << 8 | code[2] << 16 | code[3] << 24;
      out[1] = code[4] | code[5] << 8 | code[6] << 16 | code[7] << 24;
    } else {
      uint32_t word = 0;
#pragma unroll
      for (int j = 0; j < kVec; ++j) word |= code[j] << (4 * j);
      *reinterpret_cast<uint32_t*>(payload + (begin + off) / 2) = word;
    }
  }
}

template <typename T, int kBits>
__global__ void dequantize_blocks_kernel(const uint8_t* payload, const float* scales, int64_t block_size, int64_t numel,
                                         bool aligned, T* out) {
  const int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * kVec;
  if (i >= numel) return;
  const float scale = scales[i / block_size];
  float v[kVec];
  if (kBits == 8) {
    const uint32_t* in = reinterpret_cast<const uint32_t*>(payload + i);
    const uint32_t words[2] = {in[0], in[1]};
#pragma unroll
    for (int j = 0; j < kVec; ++j) v[j] = __fmul_rn(float(int8_t(words[j / 4] >> (8 * (j % 4)))), scale);
  } else {
    const uint32_t word = *reinterpret_cast<const uint32_t*>(payload + i / 2);
#pragma unroll
    for (int j = 0; j < kVec; ++j) v[j] = __fmul_rn(float(int((word >> (4 * j)) & 0xFu) - 8), scale);
  }
  const bool nan_block = scale != scale;
  T t[kVec];
#pragma unroll
  for (int j = 0; j < kVec; ++j) t[j] = nan_block ? cpu_nan<T>() : narrow<T>(v[j]);
  if (aligned && i + kVec <= numel) {
    store8_raw(out + i, t);
  } else {
    for (int j = 0; j < kVec && i + j < numel; ++j) out[i + j] = t[j];
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename T>
void quantize_as(const void* x, int64_t numel, int bits, int64_t block_size, uint8_t* payload, float* scales,
                 cudaStream_t stream) {
  const int64_t blocks = (numel + block_size - 1) / block_size;
  // One thread per 8 elements of a block, in whole warps, at most 256 (larger blocks loop).
  int threads = int((block_size / kVec + 31) / 32 * 32);
  threads = threads > 256 ? 256 : threads;
  const T* data = static_cast<const T*>(x);
  if (bits == 8)
    quantize_blocks_kernel<T, 8><<<unsigned(blocks), threads, 0, stream>>>(data, numel, block_size, aligned16(x), payload, scales);
  else
    quantize_blocks_kernel<T, 4><<<unsigned(blocks), threads, 0, stream>>>(data, numel, block_size, aligned16(x), payload, scales);
}

template <typename T>
void dequantize_as(const uint8_t* payload, const float* scales, int bits, int64_t block_size, int64_t numel, void* out,
                   cudaStream_t stream) {
  constexpr int kThreads = 256;
  const int64_t vectors = (numel + kVec - 1) / kVec;
  const unsigned grid = unsigned((vectors + kThreads - 1) / kThreads);
  T* data = static_cast<T*>(out);
  if (bits == 8)
    dequantize_blocks_kernel<T, 8><<<grid, kThreads, 0, stream>>>(payload, scales, block_size, numel, aligned16(out), data);
  else
    dequantize_blocks_kernel<T, 4><<<grid, kThreads, 0, stream>>>(payload, scales, block_size, numel, aligned16(out), data);
}

}  // namespace

void launch_quantize_blocks(const void* x, FloatKind kind, int64_t numel, int bits, int64_t block_size,
                            uint8_t* payload, float* scales, cudaStream_t stream) {
  if (numel == 0) return;
  switch (kind) {
    case FloatKind::f32: return quantize_as<float>(x, numel, bits, block_size, payload, scales, stream);
    case FloatKind::bf16: return quantize_as<__nv_bfloat16>(x, numel, bits, block_size, payload, scales, stream);
    case FloatKind::f16: return quantize_as<__half>(x, numel, bits, block_size, payload, scales, stream);
  }
}

void launch_dequantize_blocks(const uint8_t* payload, const float* scales, int bits, int64_t block_size,
                              int64_t numel, void* out, FloatKind kind, cudaStream_t stream) {
  if (numel == 0) return;
  switch (kind) {
    case FloatKind::f32: return dequantize_as<float>(payload, scales, bits, block_size, numel, out, stream);
    case FloatKind::bf16: return dequantize_as<__nv_bfloat16>(payload, scales, bits, block_size, numel, out, stream);
    case FloatKind::f16: return dequantize_as<__half>(payload, scales, bits, block_size, numel, out, stream);
  }
}

}  // namespace zs::kernels
