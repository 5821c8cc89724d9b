// The gradient side of an offloaded step (host_state_store.hpp, nvme_state_store.hpp): the
// pieces' device gradients come to the host through the transfer's ring of B buffers, B - 1
// pieces ahead of the one being updated (with one buffer, each piece just before its update).
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/zero/state/offload_transfer.hpp"

namespace zs {

class GradientRing {
 public:
  // `device_grad(k)`: piece k's gradient on the device (contiguous), for k in [0, pieces).
  GradientRing(OffloadTransfer& transfer, int buffers, size_t pieces, std::function<at::Tensor(size_t)> device_grad)
      : transfer_(transfer), buffers_(size_t(buffers)), pieces_(pieces), device_grad_(std::move(device_grad)),
        host_(size_t(buffers)) {
    for (size_t k = 0; k < std::min(buffers_ - 1, pieces_); ++k) fetch(k);
  }

  // Starts the fetch that keeps the ring full, waits for piece k's gradient and returns it (host
  // memory, valid until release(k)). Pieces are taken in order.
  const at::Tensor& take(size_t k) {
    if (buffers_ == 1) fetch(k);
    else if (k + buffers_ - 1 < pieces_) fetch(k + buffers_ - 1);
    transfer_.wait_grad(int(k % buffers_));
    return host_[k % buffers_];
  }
  // Piece k is updated: its buffer may take the next fetch.
  void release(size_t k) { host_[k % buffers_] = at::Tensor(); }

 private:
  void fetch(size_t k) { host_[k % buffers_] = transfer_.fetch_grad(int(k % buffers_), device_grad_(k)); }

  OffloadTransfer& transfer_;
  size_t buffers_, pieces_;
  std::function<at::Tensor(size_t)> device_grad_;
  std::vector<at::Tensor> host_;
};

}  // namespace zs
