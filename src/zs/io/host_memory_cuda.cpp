// Pinned host tensors of exact size (host_memory.hpp): cudaHostAlloc, freed with cudaFreeHost when
// the tensor's storage goes. Copies from and to them are asynchronous as from LibTorch's own
// pinned memory (is_pinned() asks the driver about the pointer).
#include <algorithm>

#include <ATen/ops/from_blob.h>
#include <c10/cuda/CUDAException.h>
#include <cuda_runtime_api.h>

#include "zs/io/host_memory.hpp"

namespace zs {

at::Tensor empty_pinned_exact(int64_t numel, at::ScalarType dtype) {
  TORCH_CHECK(numel >= 0, "empty_pinned_exact: negative size ", numel);
  const size_t bytes = std::max<size_t>(1, size_t(numel) * c10::elementSize(dtype));
  void* data = nullptr;
  C10_CUDA_CHECK(cudaHostAlloc(&data, bytes, cudaHostAllocDefault));
  return at::from_blob(
      data, {numel}, [](void* p) { (void)cudaFreeHost(p); }, at::TensorOptions().dtype(dtype).device(at::kCPU));
}

}  // namespace zs
