#pragma once
// A small counter-free random generator for per-sample augmentation: seeded from (seed, split,
// epoch, sample index), so a sample's crop and flip do not depend on which thread decodes it, on
// the batch it lands in, or on the world size. splitmix64: portable, same numbers on every machine
// (the standard library's distributions are not specified bit for bit).
#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace zs {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// One key from several integers, order-sensitive.
inline uint64_t sample_key(std::initializer_list<uint64_t> parts) {
  uint64_t key = 0x5A17C0DEull;
  for (uint64_t p : parts) key = splitmix64(key ^ splitmix64(p));
  return key;
}

class SampleRng {
 public:
  explicit SampleRng(uint64_t key) : state_(key) {}

  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
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
  uint64_t state_;
};

}  // namespace zs
