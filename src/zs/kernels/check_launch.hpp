// After launching one of our CUDA kernels from host code: a launch error (bad configuration, no
// kernel image for this GPU) becomes an exception naming the kernel. Host code of GPU builds only.
#pragma once

#include <stdexcept>
#include <string>

#include <cuda_runtime_api.h>

namespace zs::kernels {

inline void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

}  // namespace zs::kernels
