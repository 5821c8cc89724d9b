// Where every parameter lives in the flat buffers, and which part of each bucket a rank owns.
//
// Parameters are laid out group by group (a group shares optimizer settings such as weight
// decay) in the order given, which callers choose as the expected gradient-ready order
// (reverse registration order, as backward produces them). Consecutive parameters are packed
// into buckets of about `bucket_elements`; a parameter never straddles two buckets and buckets
// never mix groups. Each bucket is padded so it splits into `partitions` equal chunks; rank r
// owns chunk r of every bucket, and a rank's shard is the concatenation of its chunks.
//
// Pure arithmetic: no tensors here, so the layout is easy to test and to store in checkpoints.
#pragma once

#include <cstdint>
#include <vector>

namespace zs {

struct FlatEntry {
  int64_t numel = 0;
  int group = 0;
  int64_t offset = 0;      // first element in the flat buffer
  int bucket = 0;
};

struct FlatBucket {
  int group = 0;
  int64_t offset = 0;         // first element in the flat buffer
  int64_t numel = 0;          // padded; divisible by partitions
  int64_t chunk = 0;          // numel / partitions: what one rank owns
  int64_t shard_offset = 0;   // where this bucket's chunk sits in a rank's shard
  int first_entry = 0, end_entry = 0;  // entries [first, end) live here
};

struct FlatLayout {
  std::vector<FlatEntry> entries;   // same order as the input
  std::vector<FlatBucket> buckets;
  int64_t total_numel = 0;          // flat buffer length (padded)
  int64_t shard_numel = 0;          // one rank's shard length
  int partitions = 1;

  // Chunk of `bucket` owned by `rank`, as [offset, offset + chunk) in the flat buffer.
  int64_t chunk_offset(int bucket, int rank) const {
    return buckets[bucket].offset + rank * buckets[bucket].chunk;
  }
};

// `numels[i]` and `groups[i]` describe parameter i (groups must be non-decreasing runs: all of
// group 0, then group 1, ...). Offsets are aligned to `align` elements (vectorised kernels and
// NCCL like 16-byte alignment), chunks to `align` as well.
FlatLayout make_flat_layout(const std::vector<int64_t>& numels, const std::vector<int>& groups,
                            int partitions, int64_t bucket_elements, int64_t align = 16);

}  // namespace zs
