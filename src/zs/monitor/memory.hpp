#pragma once
// Memory use of a device, for step logs and memory tests.
//   CUDA device: the caching allocator's allocated / peak allocated / reserved bytes.
//   CPU device:  the process's resident set (VmRSS) as allocated and reserved, its high-water mark
//                (VmHWM) as peak; the whole process, not one device.
#include <c10/core/Device.h>

#include <cstdint>

namespace zs {

struct MemoryStats {
  int64_t allocated = 0;
  int64_t peak_allocated = 0;
  int64_t reserved = 0;
};

MemoryStats device_memory(c10::Device device);

// Restarts peak tracking. On CPU this asks Linux to reset VmHWM (/proc/self/clear_refs); where the
// kernel refuses, the peak stays the process's lifetime peak.
void reset_peak_memory(c10::Device device);

// Total memory of a CUDA device in bytes (0 for the CPU), and the host memory Linux can still
// give (MemAvailable of /proc/meminfo, 0 when unknown): what estimates are checked against.
int64_t device_capacity(c10::Device device);
int64_t host_available_memory();

#ifdef ZS_WITH_CUDA
int64_t cuda_device_capacity(c10::DeviceIndex index);
// The CUDA halves, in memory_cuda.cpp (GPU build only).
MemoryStats cuda_device_memory(c10::DeviceIndex index);
void cuda_reset_peak_memory(c10::DeviceIndex index);
#endif

}  // namespace zs
