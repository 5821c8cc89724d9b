// The squared norm over many tensors: launches of up to kNormBatchSlots slots, whose blocks walk
// the slots in chunks (slot_chunks.cuh) and leave one fp32 partial sum each; then one block sums
// the partials.
#include "zs/optim/grad_norm_kernels.hpp"

#include "zs/kernels/multiprocessors.hpp"
#include "zs/kernels/slot_chunks.cuh"
#include "zs/kernels/vec8.cuh"

#include <algorithm>

namespace zs::kernels {
namespace {

constexpr int kLanes = kVec8;
constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 4;  // on an H200, 2 read at two-thirds the speed and 8 no faster
constexpr int kGroupsPerThread = kSlotChunkGroups / kThreads;
static_assert(kSlotChunkGroups % kThreads == 0, "a chunk is whole groups per thread");
constexpr int kSumThreads = 1024;

struct NormBatch {
  NormSlot slot[kNormBatchSlots];
  int64_t head[kNormBatchSlots];
  int64_t chunk_end[kNormBatchSlots];  // chunks of slots [0, s] together
  int count;
};

// The block's threads' values added in a fixed order; the total lands in thread 0.
template <int kBlock>
__device__ float block_sum(float x) {
  __shared__ float warp_sums[kBlock / 32];
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) x += __shfl_down_sync(0xffffffffu, x, offset);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = x;
  __syncthreads();
  if (threadIdx.x < 32) {
    x = threadIdx.x < kBlock / 32 ? warp_sums[threadIdx.x] : 0.f;
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) x += __shfl_down_sync(0xffffffffu, x, offset);
  }
  return x;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) squared_norm_partials(const NormBatch batch, float* __restrict__ partials) {
  float acc = 0.f;
  const int64_t chunks = batch.chunk_end[batch.count - 1];
  for (int64_t chunk = blockIdx.x; chunk < chunks; chunk += gridDim.x) {
    int64_t local = 0;
    const int s = slot_of_chunk(batch.chunk_end, chunk, local);
    const T* __restrict__ x = static_cast<const T*>(batch.slot[s].data);
    const int64_t n = batch.slot[s].n, head = batch.head[s];
    const int64_t groups = (n - head) / kLanes;
    if (local == 0) {
      const int64_t i = scalar_end_element(head, groups, n);
      if (i >= 0) {
        const float v = widen(x[i]);
        acc = fmaf(v, v, acc);
      }
    }
    // The chunk's kGroupsPerThread loads of this thread issued together, then added in order.
    float v[kGroupsPerThread][kLanes];
#pragma unroll
    for (int u = 0; u < kGroupsPerThread; ++u) {
      const int64_t k = local * kSlotChunkGroups + u * kThreads + threadIdx.x;
      if (k < groups) load8(x + head + k * kLanes, v[u]);
      else
#pragma unroll
        for (int j = 0; j < kLanes; ++j) v[u][j] = 0.f;
    }
#pragma unroll
    for (int u = 0; u < kGroupsPerThread; ++u)
#pragma unroll
      for (int j = 0; j < kLanes; ++j) acc = fmaf(v[u][j], v[u][j], acc);
  }
  const float total = block_sum<kThreads>(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

__global__ void __launch_bounds__(kSumThreads) sum_partials(const float* __restrict__ partials, int64_t count,
                                                            float* __restrict__ out) {
  float acc = 0.f;
  for (int64_t i = threadIdx.x; i < count; i += kSumThreads) acc += partials[i];
  const float total = block_sum<kSumThreads>(acc);
  if (threadIdx.x == 0) *out = total;
}

int64_t blocks_per_launch() { return int64_t(multiprocessors()) * kBlocksPerSm; }

// Elements before the first 16-byte boundary (at most kLanes - 1, or n).
int64_t aligned_head(const void* p, int64_t element_size, int64_t n) {
  const int64_t misalignment = int64_t(reinterpret_cast<uintptr_t>(p) % 16);
  return std::min<int64_t>(misalignment ? (16 - misalignment) / element_size : 0, n);
}

template <typename T>
void launch_typed(const NormSlot* slots, int count, float* scratch, float* out, cudaStream_t stream) {
  NormBatch batch{};
  int64_t chunks = 0, used = 0;
  const auto flush = [&] {
    if (batch.count == 0) return;
    const int64_t blocks = std::min<int64_t>(chunks, blocks_per_launch());
    squared_norm_partials<T><<<unsigned(blocks), kThreads, 0, stream>>>(batch, scratch + used);
    used += blocks;
    batch.count = 0;
    chunks = 0;
  };
  for (int i = 0; i < count; ++i) {
    if (slots[i].n == 0) continue;
    const int64_t head = aligned_head(slots[i].data, int64_t(sizeof(T)), slots[i].n);
    const int64_t groups = (slots[i].n - head) / kLanes;
    chunks += slot_chunks(groups);
    batch.slot[batch.count] = slots[i];
    batch.head[batch.count] = head;
    batch.chunk_end[batch.count] = chunks;
    if (++batch.count == kNormBatchSlots) flush();
  }
  flush();
  sum_partials<<<1, kSumThreads, 0, stream>>>(scratch, used, out);
}

}  // namespace

int64_t squared_norm_scratch(int count) {
  return std::max<int64_t>(1, (count + kNormBatchSlots - 1) / kNormBatchSlots) * blocks_per_launch();
}

void launch_squared_norm(const NormSlot* slots, int count, FloatKind kind, float* scratch, float* out,
                         cudaStream_t stream) {
  switch (kind) {
    case FloatKind::f32: return launch_typed<float>(slots, count, scratch, out, stream);
    case FloatKind::bf16: return launch_typed<__nv_bfloat16>(slots, count, scratch, out, stream);
    case FloatKind::f16: return launch_typed<__half>(slots, count, scratch, out, stream);
  }
}

}  // namespace zs::kernels
