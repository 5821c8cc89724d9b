// Many tensors ("slots") in one launch: each slot's 16-byte vector groups are cut into chunks of
// kSlotChunkGroups, numbered across the slots in order, and blocks take chunks in a grid-stride
// loop. A slot's first chunk also takes its scalar ends: the elements before its first aligned
// vector (its head, fewer than 8) and after its last whole one (its tail, fewer than 8). Shared by
// the batched Adam step and the batched squared norm. nvcc only.
#pragma once

#include <cstdint>

#include "zs/kernels/vec8.cuh"

namespace zs::kernels {

constexpr int kSlotChunkGroups = 1024;  // vector groups a chunk (4 per thread of a 256-thread block)

// Chunks a slot of `groups` vector groups takes: at least one, for its scalar ends.
inline int64_t slot_chunks(int64_t groups) {
  const int64_t chunks = (groups + kSlotChunkGroups - 1) / kSlotChunkGroups;
  return chunks > 0 ? chunks : 1;
}

// The slot holding `chunk` (chunk_end[s]: the chunks of slots 0..s together), and in `local` the
// chunk's index within that slot.
template <int kSlots>
__device__ __forceinline__ int slot_of_chunk(const int64_t (&chunk_end)[kSlots], int64_t chunk, int64_t& local) {
  int s = 0;
  while (chunk >= chunk_end[s]) ++s;
  local = chunk - (s ? chunk_end[s - 1] : 0);
  return s;
}

// In a slot's first chunk, the scalar element this thread takes: threads 0-7 the head, 8-15 the
// tail; -1 for none.
__device__ __forceinline__ int64_t scalar_end_element(int64_t head, int64_t groups, int64_t n) {
  if (threadIdx.x < kVec8) return int64_t(threadIdx.x) < head ? int64_t(threadIdx.x) : -1;
  if (threadIdx.x >= 2 * kVec8) return -1;
  const int64_t i = head + groups * kVec8 + threadIdx.x - kVec8;
  return i < n ? i : -1;
}

}  // namespace zs::kernels
