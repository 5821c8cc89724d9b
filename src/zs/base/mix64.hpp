// splitmix64: a strong, stateless 64-bit mix, and the generator built on it. Seeds and streams
// derived with them (parameter initialisation, the batch sampler's draws, augmentation, synthetic
// data) are the same on every platform and every run, where the standard library's distributions
// are not specified bit for bit. Header-only and standard C++ only: any layer may use it.
#pragma once

#include <cstdint>

namespace zs {

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;

// splitmix64's output function of the state x (the state advanced by the gamma, then finalised).
inline uint64_t mix64(uint64_t x) {
  x += kGoldenGamma;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// splitmix64's stream from a seed: mix64(seed), mix64(seed + gamma), ...
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    const uint64_t z = mix64(state_);
    state_ += kGoldenGamma;
    return z;
  }

 private:
  uint64_t state_;
};

}  // namespace zs
