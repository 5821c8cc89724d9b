#include "zs/io/host_memory.hpp"

#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>

namespace zs {

at::Tensor empty_host(int64_t numel, at::ScalarType dtype, bool pinned) {
  if (!pinned) return at::empty({numel}, at::TensorOptions().dtype(dtype).device(at::kCPU));
#ifdef ZS_WITH_CUDA
  return empty_pinned_exact(numel, dtype);
#else
  TORCH_CHECK(false, "pinned host memory needs ZeroShard's GPU build");
#endif
}

}  // namespace zs
