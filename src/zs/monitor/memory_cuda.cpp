// CUDA memory statistics from LibTorch's caching allocator (GPU build only).
#include <cuda_runtime.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>

#include "zs/monitor/memory.hpp"

namespace zs {

MemoryStats cuda_device_memory(c10::DeviceIndex index) {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  const auto all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  MemoryStats out;
  out.allocated = stats.allocated_bytes[all].current;
  out.peak_allocated = stats.allocated_bytes[all].peak;
  out.reserved = stats.reserved_bytes[all].current;
  return out;
}

int64_t cuda_device_capacity(c10::DeviceIndex index) {
  c10::cuda::CUDAGuard guard(index);
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return 0;
  return int64_t(total_bytes);
}

void cuda_reset_peak_memory(c10::DeviceIndex index) { c10::cuda::CUDACachingAllocator::resetPeakStats(index); }

}  // namespace zs
