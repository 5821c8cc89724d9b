// ShardUpload on CUDA: one upload stream per device, an event per copy.
#include <mutex>
#include <optional>
#include <vector>

#include <ATen/cuda/CUDAEvent.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "zs/zero/shard_upload.hpp"

namespace zs {
namespace {

c10::cuda::CUDAStream upload_stream(c10::Device device) {
  // One per device for the process, so that uploads run one after another at full bandwidth.
  static std::mutex mutex;
  static std::vector<std::optional<c10::cuda::CUDAStream>> streams(c10::cuda::device_count());
  std::lock_guard<std::mutex> lock(mutex);
  auto& s = streams.at(device.index());
  if (!s) s = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
  return *s;
}

class CudaUpload final : public ShardUpload {
 public:
  CudaUpload(const at::Tensor& host, c10::Device device) {
    c10::cuda::CUDAGuard device_guard(device);
    const c10::cuda::CUDAStream stream = upload_stream(device);
    c10::cuda::CUDAStreamGuard stream_guard(stream);
    // Allocated on the upload stream: memory freed there is safe to reuse in its own order.
    shard_ = at::empty(host.sizes(), host.options().device(device).pinned_memory(false));
    shard_.copy_(host, /*non_blocking=*/true);
    copied_.record(stream);
  }

  const at::Tensor& wait() override {
    const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(shard_.device().index());
    copied_.block(current);
    // The reader's stream uses it from here: its memory is not reused before that stream is done.
    c10::cuda::CUDACachingAllocator::recordStream(shard_.storage().data_ptr(), current);
    return shard_;
  }

 private:
  at::Tensor shard_;
  at::cuda::CUDAEvent copied_;
};

}  // namespace

std::unique_ptr<ShardUpload> upload_shard_cuda(const at::Tensor& host, c10::Device device) {
  return std::make_unique<CudaUpload>(host, device);
}

}  // namespace zs
