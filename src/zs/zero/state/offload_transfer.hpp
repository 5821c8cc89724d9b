// The copies of an offloaded optimizer step (host_state_store.hpp, nvme_state_store.hpp): shard
// gradients from the device to the host, updated parameter values back. Work goes through a small ring of numbered
// buffers, so the step can update one piece while the next piece's gradient is still in flight.
//
// Two implementations: on CUDA (offload_transfer_cuda.cpp, GPU build only) the copies run on a
// copy stream of their own into pinned staging buffers, ordered by CUDA events; on the CPU the
// "device" tensors already are host memory, so nothing is copied: the step reads the gradient
// where it lies and writes the parameter values straight into place.
#pragma once

#include <memory>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace zs {

class OffloadTransfer {
 public:
  virtual ~OffloadTransfer() = default;

  // Orders the coming copies after the device work queued so far (the reduced gradients), and
  // after the previous step's sends. Once per step, first.
  virtual void begin() = 0;
  // Starts bringing `device_grad` (contiguous) to the host through buffer `b`; returns the host
  // tensor that holds it once wait_grad(b) returns. The caller must be done with what buffer b
  // held before.
  virtual at::Tensor fetch_grad(int b, const at::Tensor& device_grad) = 0;
  virtual void wait_grad(int b) = 0;
  // A host tensor shaped like `device_dst` (its dtype) that the step may write the updated values
  // into; waits until buffer b's previous send has left it. A `device_dst` that already is host
  // memory (offload_param shards, CPU ranks) is returned itself, and send() then copies nothing
  // but an fp32 master.
  virtual at::Tensor param_buffer(int b, const at::Tensor& device_dst) = 0;
  // Starts copying `host` into `device_dst` (same dtype and size) through buffer `b`. `host` must
  // stay unchanged until the next begin().
  virtual void send(int b, const at::Tensor& host, const at::Tensor& device_dst) = 0;
  // Makes device work queued from now on wait for every send of this step.
  virtual void finish() = 0;
  // For a step that runs while the device computes (HostStateStore in the background): `count`
  // slots will be marked; mark_slot(s) after slot s's last send; wait_slot(s) makes device work
  // queued from now on (on the caller's current stream) wait for those sends.
  virtual void prepare_slots(int count) = 0;
  virtual void mark_slot(int slot) = 0;
  virtual void wait_slot(int slot) = 0;
  // For a step whose slots arrive during backward (HostStateStore::submit): mark_grads_ready(s),
  // on the stream that finished slot s's gradient, notes that point; copies_after_grads(s) makes
  // the copies queued from now on wait for it (called by the thread that fetches them).
  virtual void mark_grads_ready(int slot) = 0;
  virtual void copies_after_grads(int slot) = 0;
};

// Elements per piece: 4M (16 MiB of fp32), a multiple of the CPU kernel's 16-element vectors;
// ZS_OFFLOAD_PIECE_ELEMENTS overrides it (tests use small pieces to split slots).
int64_t offload_piece_elements();

// `buffers`: ring size (>= 1); `buffer_elements`: the largest piece a buffer holds.
std::unique_ptr<OffloadTransfer> make_offload_transfer(c10::Device device, int buffers, int64_t buffer_elements);

#ifdef ZS_WITH_CUDA
// Defined in offload_transfer_cuda.cpp (GPU build only).
std::unique_ptr<OffloadTransfer> make_cuda_offload_transfer(c10::Device device, int buffers, int64_t buffer_elements);
#endif

}  // namespace zs
