// Host tensors for long-lived offloaded state: optimizer masters and moments, parameter shards in
// host memory. Pinned ones take exactly the bytes asked for: LibTorch's pinned allocator rounds
// every allocation up to a power of two so that freed blocks can be reused, which for a few large
// tensors that live as long as the run is up to twice the memory (a Llama-2-7B layer's 809 MB of
// fp32 masters would take 1 GiB; its masters, moments and bf16 shard ~28 GiB more in all).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

namespace zs {

// An uninitialised host tensor of `numel` elements; page-locked when `pinned` (GPU builds only:
// elsewhere asking for it is an error).
at::Tensor empty_host(int64_t numel, at::ScalarType dtype, bool pinned);

#ifdef ZS_WITH_CUDA
// Defined in host_memory_cuda.cpp (GPU build only): cudaHostAlloc of exactly numel elements.
at::Tensor empty_pinned_exact(int64_t numel, at::ScalarType dtype);
#endif

}  // namespace zs
