// The benchmarks' clock: wall seconds, a device barrier before reading it, and the process's age.
#pragma once

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include <c10/core/Device.h>

#ifdef ZS_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace zs::bench {

// Waits for the device's queued work, so that the clock read after it covers that work.
inline void synchronize(const c10::Device& device) {
#ifdef ZS_WITH_CUDA
  if (device.is_cuda()) c10::cuda::device_synchronize();
#else
  (void)device;
#endif
}

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Seconds since this process started (from /proc: start time in clock ticks after boot).
inline double process_age_s() {
  std::ifstream stat("/proc/self/stat"), uptime("/proc/uptime");
  std::string line;
  std::getline(stat, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  unsigned long long start_ticks = 0;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) start_ticks = std::stoull(field);
  double up = 0;
  uptime >> up;
  return up - double(start_ticks) / double(sysconf(_SC_CLK_TCK));
}

}  // namespace zs::bench
