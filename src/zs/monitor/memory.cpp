#include "zs/monitor/memory.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace zs {
namespace {

// A "Name:   1234 kB" line of /proc/self/status, in bytes; 0 where absent.
int64_t proc_status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, field.size() + 1, field + ":") != 0) continue;
    std::istringstream values(line.substr(field.size() + 1));
    int64_t kib = 0;
    values >> kib;
    return kib * 1024;
  }
  return 0;
}

}  // namespace

int64_t device_capacity(c10::Device device) {
#ifdef ZS_WITH_CUDA
  if (device.is_cuda()) return cuda_device_capacity(device.has_index() ? device.index() : 0);
#endif
  (void)device;
  return 0;
}

int64_t host_available_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.compare(0, 13, "MemAvailable:") != 0) continue;
    std::istringstream values(line.substr(13));
    int64_t kib = 0;
    values >> kib;
    return kib * 1024;
  }
  return 0;
}

MemoryStats device_memory(c10::Device device) {
  if (device.is_cpu()) {
    MemoryStats stats;
    stats.allocated = proc_status_bytes("VmRSS");
    stats.reserved = stats.allocated;
    stats.peak_allocated = proc_status_bytes("VmHWM");
    return stats;
  }
  if (device.is_cuda()) {
#ifdef ZS_WITH_CUDA
    return cuda_device_memory(device.has_index() ? device.index() : 0);
#else
    throw std::runtime_error("device_memory: this ZeroShard build has no CUDA support");
#endif
  }
  throw std::invalid_argument("device_memory: unsupported device " + device.str());
}

void reset_peak_memory(c10::Device device) {
  if (device.is_cpu()) {
    std::ofstream clear_refs("/proc/self/clear_refs");
    if (clear_refs) clear_refs << "5";  // "5" resets the peak RSS (Linux >= 4.0)
    return;
  }
  if (device.is_cuda()) {
#ifdef ZS_WITH_CUDA
    cuda_reset_peak_memory(device.has_index() ? device.index() : 0);
    return;
#else
    throw std::runtime_error("reset_peak_memory: this ZeroShard build has no CUDA support");
#endif
  }
  throw std::invalid_argument("reset_peak_memory: unsupported device " + device.str());
}

}  // namespace zs
