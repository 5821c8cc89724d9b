#include "zs/data/batch_sampler.hpp"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "zs/base/mix64.hpp"

namespace zs {

std::vector<at::Tensor> Batch::on_device(c10::Device device) const {
  if (!device.is_cuda()) return {x.to(device), y.to(device)};
  return {x.pin_memory().to(device, /*non_blocking=*/true), y.pin_memory().to(device, /*non_blocking=*/true)};
}

namespace {

uint64_t combine(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b)); }

}  // namespace

GlobalBatchSampler::GlobalBatchSampler(const TokenData& data, int64_t block_size, uint64_t seed)
    : data_(data), block_size_(block_size), seed_(seed) {
  if (block_size <= 0) throw std::invalid_argument("block_size must be positive, got " + std::to_string(block_size));
  for (Split split : {Split::Train, Split::Val}) {
    const auto len = static_cast<int64_t>(data_.tokens(split).size());
    if (len < block_size + 1)
      throw std::runtime_error("data '" + data_.source() + "': the " + split_name(split) + " split has " +
                               std::to_string(len) + " tokens, fewer than block_size + 1 = " +
                               std::to_string(block_size + 1));
  }
}

int64_t GlobalBatchSampler::sample_offset(Split split, int64_t step, int64_t index) const {
  const uint64_t n = data_.tokens(split).size() - static_cast<uint64_t>(block_size_);  // offsets 0..n-1
  uint64_t key = combine(combine(combine(seed_, split == Split::Train ? 0 : 1), static_cast<uint64_t>(step)),
                         static_cast<uint64_t>(index));
  // Rejection keeps the draw exactly uniform: refuse the few values below 2^64 mod n.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    key = mix64(key);
    if (key >= threshold) return static_cast<int64_t>(key % n);
  }
}

Batch GlobalBatchSampler::global_samples(Split split, int64_t step, int64_t first, int64_t count) const {
  const TokenArray& tokens = data_.tokens(split);
  const int64_t T = block_size_;
  Batch out{at::empty({count, T}, at::kLong), at::empty({count, T}, at::kLong)};
  int64_t* x = out.x.data_ptr<int64_t>();
  int64_t* y = out.y.data_ptr<int64_t>();
  const int64_t vocab = data_.vocab_size();
  std::vector<int64_t> window(size_t(T + 1));
  for (int64_t s = 0; s < count; ++s) {
    tokens.copy_to(size_t(sample_offset(split, step, first + s)), window.size(), window.data());
    for (int64_t t = 0; t <= T; ++t) {
      if (window[t] >= vocab)
        throw std::runtime_error("data '" + data_.source() + "' holds token id " + std::to_string(window[t]) +
                                 " but vocab_size is " + std::to_string(vocab));
    }
    std::copy(window.begin(), window.end() - 1, x + s * T);
    std::copy(window.begin() + 1, window.end(), y + s * T);
  }
  return out;
}

Batch GlobalBatchSampler::batch(Split split, int64_t step, int64_t micro_step, int rank, int world_size,
                                int64_t micro_batch) const {
  if (world_size <= 0 || rank < 0 || rank >= world_size)
    throw std::invalid_argument("rank " + std::to_string(rank) + " is outside world size " +
                                std::to_string(world_size));
  if (micro_batch <= 0 || micro_step < 0 || step < 0)
    throw std::invalid_argument("micro_batch must be positive and step, micro_step non-negative");
  const int64_t first = (micro_step * world_size + rank) * micro_batch;
  return global_samples(split, step, first, micro_batch);
}

Batch GlobalBatchSampler::batch(const std::string& split, int64_t step, int64_t micro_step, int rank,
                                int world_size, int64_t micro_batch) const {
  return batch(parse_split(split), step, micro_step, rank, world_size, micro_batch);
}

}  // namespace zs
