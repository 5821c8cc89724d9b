// OffloadTransfer on the CPU (no copies), and the choice of implementation by device.
#include "zs/zero/state/offload_transfer.hpp"

#include <stdexcept>
#include <string>

#include "zs/config/env.hpp"

namespace zs {

int64_t offload_piece_elements() {
  constexpr int64_t kDefault = int64_t(4) << 20;
  const int64_t n = positive_int_from_env("ZS_OFFLOAD_PIECE_ELEMENTS").value_or(kDefault);
  return (n + 15) / 16 * 16;
}

namespace {

// The ranks' "device" is the CPU: gradients and parameters already are host memory.
class HostOffloadTransfer final : public OffloadTransfer {
 public:
  void begin() override {}
  at::Tensor fetch_grad(int, const at::Tensor& device_grad) override { return device_grad; }
  void wait_grad(int) override {}
  at::Tensor param_buffer(int, const at::Tensor& device_dst) override { return device_dst; }
  void send(int, const at::Tensor& host, const at::Tensor& device_dst) override {
    // The step wrote 16-bit values in place already; fp32 values come from the master copy.
    if (host.data_ptr() != device_dst.data_ptr()) device_dst.copy_(host);
  }
  void finish() override {}
  void prepare_slots(int) override {}
  void mark_slot(int) override {}
  void wait_slot(int) override {}
  void mark_grads_ready(int) override {}
  void copies_after_grads(int) override {}
};

}  // namespace

std::unique_ptr<OffloadTransfer> make_offload_transfer(c10::Device device, int buffers, int64_t buffer_elements) {
  if (device.is_cpu()) return std::make_unique<HostOffloadTransfer>();
#ifdef ZS_WITH_CUDA
  if (device.is_cuda()) return make_cuda_offload_transfer(device, buffers, buffer_elements);
#endif
  throw std::invalid_argument("optimizer offload: no device-to-host copies for device " + device.str() +
                              " in this build");
}

}  // namespace zs
