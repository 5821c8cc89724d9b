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

#ifdef ZS_WITH_CUDA
// The CUDA halves, in memory_cuda.cpp (GPU build only).
MemoryStats cuda_device_memory(c10::DeviceIndex index);
void cuda_reset_peak_memory(c10::DeviceIndex index);
#endif

}  // namespace zs
