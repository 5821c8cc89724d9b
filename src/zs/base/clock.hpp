// Seconds on the steady clock, for durations (timers, progress, profilers). Header-only and
// standard C++ only: any layer may use it.
#pragma once

#include <chrono>

namespace zs {

inline double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace zs
