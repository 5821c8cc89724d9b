#pragma once
// Random (x, y) windows of a token split, chosen so the training data does not depend on the world size.
//
// For optimizer step `step` the global batch holds micro_batch * grad_accum * world_size samples.
// Global sample j of that step starts at an offset that is a pure function of (seed, split, step, j),
// uniform in [0, len - block_size - 1]; x = tokens[i, i+T), y = tokens[i+1, i+1+T) (next-token targets).
// Rank r's micro step m takes global samples [(m * world_size + r) * micro_batch, + micro_batch).
// So 1 rank with 4 accumulation steps and 4 ranks with 1 see the same samples for every step, and a
// rerun with the same seed sees the same data.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "zs/data/token_data.hpp"

namespace zs {

struct Batch {
  at::Tensor x;  // [micro_batch, block_size] int64 (CPU)
  at::Tensor y;  // same shape: x shifted by one token

  // {x, y} on `device`. To a GPU through pinned memory and asynchronously: a copy from pageable
  // memory would hold the training loop until the GPU had finished the step before, leaving it
  // idle while the next one is queued. (The pinned buffers are reused only once their copies are
  // done: LibTorch's caching host allocator records the copy's stream.)
  std::vector<at::Tensor> on_device(c10::Device device) const;
};

class GlobalBatchSampler {
 public:
  // Throws std::runtime_error naming the data source if a split is too short for one window.
  GlobalBatchSampler(const TokenData& data, int64_t block_size, uint64_t seed);

  // The micro batch of `rank` at `micro_step` within optimizer step `step`. Eval batches use
  // Split::Val with `step` as the eval iteration.
  Batch batch(Split split, int64_t step, int64_t micro_step, int rank, int world_size, int64_t micro_batch) const;
  Batch batch(const std::string& split, int64_t step, int64_t micro_step, int rank, int world_size,
              int64_t micro_batch) const;

  // Global samples [first, first + count) of `step`.
  Batch global_samples(Split split, int64_t step, int64_t first, int64_t count) const;

  // Start offset of global sample `index` of `step`.
  int64_t sample_offset(Split split, int64_t step, int64_t index) const;

  int64_t block_size() const { return block_size_; }
  const TokenData& data() const { return data_; }

 private:
  TokenData data_;  // shares the token storage (cheap copy)
  int64_t block_size_;
  uint64_t seed_;
};

}  // namespace zs
