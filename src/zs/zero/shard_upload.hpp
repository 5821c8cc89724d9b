// Bringing an offloaded parameter shard (offload_param "cpu": pinned host memory) up to the device
// for a gather, without holding up the compute stream.
//
// On CUDA the copy runs on a stream of its own and starts at once; the stream that will read the
// shard waits for it only when wait() is called (a prefetch issued a unit ahead overlaps the unit
// that runs now, where a copy issued on the compute stream would queue behind its kernels and hold
// up everything after it). Elsewhere the copy is done on the spot.
#pragma once

#include <memory>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace zs {

class ShardUpload {
 public:
  virtual ~ShardUpload() = default;
  // The shard on the device, with the current stream ordered after its copy (call once, on the
  // stream that will read it; the tensor's memory stays reserved for that stream's use).
  virtual const at::Tensor& wait() = 0;
};

// Starts copying `host` (a pinned host tensor) to `device`.
std::unique_ptr<ShardUpload> upload_shard(const at::Tensor& host, c10::Device device);

#ifdef ZS_WITH_CUDA
std::unique_ptr<ShardUpload> upload_shard_cuda(const at::Tensor& host, c10::Device device);
#endif

}  // namespace zs
