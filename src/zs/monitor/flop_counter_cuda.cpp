// The flops profiler's device synchronization around unit forwards (GPU build only).
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>

#include "zs/monitor/flop_counter.hpp"

namespace zs {

void cuda_synchronize_device(c10::DeviceIndex index) {
  c10::cuda::CUDAGuard guard(index);
  c10::cuda::device_synchronize();
}

}  // namespace zs
