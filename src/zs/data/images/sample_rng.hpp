#pragma once
// A small counter-free random generator for per-sample augmentation: seeded from (seed, split,
// epoch, sample index), so a sample's crop and flip do not depend on which thread decodes it, on
// the batch it lands in, or on the world size. splitmix64: portable, same numbers on every machine
// (the standard library's distributions are not specified bit for bit).
#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "zs/base/mix64.hpp"

namespace zs {

// One key from several integers, order-sensitive.
inline uint64_t sample_key(std::initializer_list<uint64_t> parts) {
  uint64_t key = 0x5A17C0DEull;
  for (uint64_t p : parts) key = mix64(key ^ mix64(p));
  return key;
}

class SampleRng {
 public:
  explicit SampleRng(uint64_t key) : stream_(key) {}

  uint64_t next() { return stream_.next(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [lo, hi] (inclusive), exactly (rejection of the biased tail).
  int64_t randint(int64_t lo, int64_t hi) {
    const uint64_t n = uint64_t(hi - lo) + 1;
    if (n == 0) return lo + int64_t(next());
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) return lo + int64_t(r % n);
    }
  }
  bool coin(double p) { return uniform() < p; }

 private:
  SplitMix64 stream_;
};

}  // namespace zs
