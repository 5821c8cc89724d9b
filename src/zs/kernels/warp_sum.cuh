// The sum of one float over a warp's 32 lanes, every lane getting it (butterfly shuffles: the same
// order on every lane, so every lane holds the same bits). nvcc only.
#pragma once

namespace zs::kernels {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

}  // namespace zs::kernels
