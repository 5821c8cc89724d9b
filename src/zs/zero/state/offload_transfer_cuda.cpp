// OffloadTransfer on CUDA: copies on a stream of their own, through pinned staging buffers.
//
// Gradients come down with non-blocking copies into pinned buffers; an event per buffer tells the
// host when a piece has landed. The step writes 16-bit values into pinned parameter buffers, and
// non-blocking copies take them (or fp32 masters) up into the shards; an event per buffer tells
// when a buffer may be written again. The compute stream waits for the last send before anything
// reads the parameters, and the next step's copies start after the previous step's sends.
#include <vector>

#include <ATen/cuda/CUDAEvent.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "zs/zero/state/offload_transfer.hpp"

namespace zs {
namespace {

class CudaOffloadTransfer final : public OffloadTransfer {
 public:
  CudaOffloadTransfer(c10::Device device, int buffers, int64_t buffer_elements)
      : device_(device),
        buffer_elements_(buffer_elements),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index())),
        grads_(buffers),
        params_(buffers),
        fetched_(buffers),
        sent_(buffers) {}

  void begin() override {
    // The previous step's sends read host values the coming update overwrites.
    last_send_.synchronize();
    at::cuda::CUDAEvent grads_ready;
    grads_ready.record(c10::cuda::getCurrentCUDAStream(device_.index()));
    grads_ready.block(stream_);
  }

  at::Tensor fetch_grad(int b, const at::Tensor& device_grad) override {
    at::Tensor host = staging(grads_[b], device_grad).narrow(0, 0, device_grad.numel());
    c10::cuda::CUDAStreamGuard guard(stream_);
    host.copy_(device_grad.reshape({device_grad.numel()}), /*non_blocking=*/true);
    fetched_[b].record(stream_);
    return host;
  }

  void wait_grad(int b) override { fetched_[b].synchronize(); }

  at::Tensor param_buffer(int b, const at::Tensor& device_dst) override {
    if (device_dst.is_cpu()) return device_dst;  // offload_param: the shard itself is host memory
    sent_[b].synchronize();
    return staging(params_[b], device_dst).narrow(0, 0, device_dst.numel());
  }

  void send(int b, const at::Tensor& host, const at::Tensor& device_dst) override {
    if (device_dst.is_cpu()) {
      // offload_param: 16-bit values were written in place; fp32 values come from the master.
      if (host.data_ptr() != device_dst.data_ptr()) device_dst.copy_(host);
      return;
    }
    c10::cuda::CUDAStreamGuard guard(stream_);
    device_dst.copy_(host, /*non_blocking=*/true);
    sent_[b].record(stream_);
  }

  void finish() override {
    last_send_.record(stream_);
    last_send_.block(c10::cuda::getCurrentCUDAStream(device_.index()));
  }

  void prepare_slots(int count) override {
    // Before the thread starts.
    if (int(slot_sent_.size()) < count) slot_sent_.resize(size_t(count));
    if (int(grads_ready_.size()) < count) grads_ready_.resize(size_t(count));
  }
  void mark_slot(int slot) override { slot_sent_.at(size_t(slot)).record(stream_); }
  void wait_slot(int slot) override { slot_sent_.at(size_t(slot)).block(c10::cuda::getCurrentCUDAStream(device_.index())); }
  void mark_grads_ready(int slot) override {
    grads_ready_.at(size_t(slot)).record(c10::cuda::getCurrentCUDAStream(device_.index()));
  }
  void copies_after_grads(int slot) override { grads_ready_.at(size_t(slot)).block(stream_); }

 private:
  // A pinned buffer of buffer_elements_ elements of `like`'s dtype (made on first use, remade
  // when the dtype changes).
  at::Tensor& staging(at::Tensor& buffer, const at::Tensor& like) {
    TORCH_CHECK(like.numel() <= buffer_elements_, "offload: a piece of ", like.numel(),
                " elements exceeds the staging buffers (", buffer_elements_, ")");
    if (!buffer.defined() || buffer.scalar_type() != like.scalar_type())
      buffer = at::empty({buffer_elements_}, at::TensorOptions().dtype(like.scalar_type()).device(at::kCPU).pinned_memory(true));
    return buffer;
  }

  c10::Device device_;
  int64_t buffer_elements_;
  c10::cuda::CUDAStream stream_;
  std::vector<at::Tensor> grads_, params_;
  std::vector<at::cuda::CUDAEvent> fetched_, sent_;
  std::vector<at::cuda::CUDAEvent> slot_sent_;  // a running step's slots, once their values are sent
  std::vector<at::cuda::CUDAEvent> grads_ready_;  // a streamed step's slots, once their gradients are final
  at::cuda::CUDAEvent last_send_;
};

}  // namespace

std::unique_ptr<OffloadTransfer> make_cuda_offload_transfer(c10::Device device, int buffers, int64_t buffer_elements) {
  return std::make_unique<CudaOffloadTransfer>(device, buffers, buffer_elements);
}

}  // namespace zs
