// Where a kernel's random draws come from: the seed and Philox offset that LibTorch's CUDA
// generator hands out for one launch. While a CUDA graph is being captured the generator hands out
// pointers instead, which each replay advances, so a replayed graph draws anew every time. Filled
// on the host from at::PhiloxCudaState (philox_draws_from); read on the device with seed_and_offset.
#pragma once

#include <cstdint>

namespace zs::kernels {

struct PhiloxDraws {
  uint64_t seed = 0;
  uint64_t offset = 0;
  const int64_t* seed_at = nullptr;    // set while capturing a graph: read when the kernel runs
  const int64_t* offset_at = nullptr;  // plus offset_in_graph
  uint64_t offset_in_graph = 0;
};

#ifdef __CUDACC__
__device__ __forceinline__ void seed_and_offset(const PhiloxDraws& d, uint64_t& seed, uint64_t& offset) {
  if (d.seed_at) {
    seed = uint64_t(*d.seed_at);
    offset = uint64_t(*d.offset_at) + d.offset_in_graph;
  } else {
    seed = d.seed;
    offset = d.offset;
  }
}
#endif

}  // namespace zs::kernels
