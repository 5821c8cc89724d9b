#include "zs/zero/shard_upload.hpp"

namespace zs {
namespace {

// Done on the spot: the current stream is the one that copies.
class ImmediateUpload final : public ShardUpload {
 public:
  ImmediateUpload(const at::Tensor& host, c10::Device device) : shard_(host.to(device, /*non_blocking=*/true)) {}
  const at::Tensor& wait() override { return shard_; }

 private:
  at::Tensor shard_;
};

}  // namespace

std::unique_ptr<ShardUpload> upload_shard(const at::Tensor& host, c10::Device device) {
#ifdef ZS_WITH_CUDA
  if (device.is_cuda() && host.is_cpu() && host.is_pinned()) return upload_shard_cuda(host, device);
#endif
  return std::make_unique<ImmediateUpload>(host, device);
}

}  // namespace zs
