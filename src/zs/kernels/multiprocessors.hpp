// The current GPU's multiprocessor count, for sizing grids of grid-stride kernels. Host code of
// GPU builds (nvcc or the host compiler); no LibTorch.
#pragma once

#include <cuda_runtime_api.h>

namespace zs::kernels {

inline int multiprocessors() {
  int device = 0, count = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || count <= 0)
    return 132;  // the caller's cudaGetLastError() reports a failed query; an H100/H200's count
  return count;
}

}  // namespace zs::kernels
