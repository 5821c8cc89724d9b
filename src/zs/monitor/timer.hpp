#pragma once
// Wall-clock stopwatch on the monotonic clock. (GPU work is asynchronous: synchronize the device
// before reading it if the time should include the kernels.)
#include <chrono>

namespace zs {

class Stopwatch {
 public:
  Stopwatch() : start_(Clock::now()) {}
  void restart() { start_ = Clock::now(); }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  // Seconds since the last restart, then restarts: convenient for per-step timing.
  double lap() {
    const auto now = Clock::now();
    const double s = std::chrono::duration<double>(now - start_).count();
    start_ = now;
    return s;
  }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_;
};

}  // namespace zs
