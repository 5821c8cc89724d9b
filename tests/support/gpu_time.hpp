// The mean wall time of a piece of GPU work, for the one-line timings of the GPU tests (not timed
// tests: they print, they do not assert). One untimed run first, the device synchronised around
// the timed runs.
#pragma once

#include <chrono>
#include <functional>

#include <c10/cuda/CUDAFunctions.h>

namespace zs::testing {

inline double gpu_time_ms(const std::function<void()>& fn, int runs = 10) {
  fn();
  c10::cuda::device_synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) fn();
  c10::cuda::device_synchronize();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / runs;
}

}  // namespace zs::testing
