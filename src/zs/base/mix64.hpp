// splitmix64's finaliser: a strong, stateless 64-bit mix. Seeds derived with it (parameter
// initialisation, the batch sampler's draws) are the same on every platform and every run.
// Header-only and standard C++ only: any layer may use it.
#pragma once

#include <cstdint>

namespace zs {

inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace zs
