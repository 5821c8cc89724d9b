// The optimizer step with offloaded optimizer state ("offload_optimizer": {"device": "cpu"}).
//
// The fp32 master weights and optimizer state of every slot it is given live in host memory (pinned with
// pin_memory on CUDA). The overflow check, the global gradient norm and the clipping divisor stay
// on the device (ZeroOptimizer); the divisor is read to the host once, then the slots are worked
// through in pieces:
//
//   piece k+1: shard gradient device -> host       (in flight, on the copy stream)
//   piece k:   CPU update of master + state, writing the 16-bit values on the way
//   piece k:   updated values host -> device, into the slot's own values
//
// so copies in both directions overlap the CPU update. ZeroOptimizer all-gathers the parameters
// afterwards as without offload.
//
// At stage 3 most slots belong to units, which are gathered one at a time in the next forward: the
// step updates them on a thread of its own (start) in the units' order while the device already
// runs that forward, and a unit's gather waits only for its own slots (wait_slot). With
// super_offload the thread starts before backward (open) and takes each unit's slots as soon as
// backward has reduced their gradients (submit), so the CPU update also overlaps the backward.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "zs/config/config.hpp"
#include "zs/optim/host_optimizer.hpp"
#include "zs/zero/offload_transfer.hpp"

namespace zs {

struct OwnedSlot;

// Called around each slot's pieces, in slot order: open(slot) before its first piece is touched,
// close(slot) after its last. offload_param "nvme" uses them to bring a unit's shard into a pool
// buffer and to write it back to its file afterwards (zero/param_swapper.hpp). Either may be empty.
struct SlotAccess {
  std::function<void(int slot)> open, close;
  void before(const std::vector<int>& piece_slots, size_t k) const {
    if (open && (k == 0 || piece_slots[k - 1] != piece_slots[k])) open(piece_slots[k]);
  }
  void after(const std::vector<int>& piece_slots, size_t k) const {
    if (close && (k + 1 == piece_slots.size() || piece_slots[k + 1] != piece_slots[k])) close(piece_slots[k]);
  }
};

class OffloadedStep {
 public:
  // `device`: where the parameters and gradients live. The config's buffer_count sets the ring of
  // staging buffers (1: no overlap); pin_memory pins masters and state (CUDA only).
  OffloadedStep(HostOptimizer& optimizer, c10::Device device, const OffloadConfig& config);

  // The host fp32 master for a slot's device values `own` (a copy).
  at::Tensor make_master(const at::Tensor& own) const;

  // The update of every slot after optimizer.begin_step(): grad(slot) is the slot's reduced shard
  // gradient on the device. Writes the updated values into each slot's `own` (reachable between
  // access.open and access.close).
  void run(const std::vector<OwnedSlot>& slots, const std::function<at::Tensor(const OwnedSlot&)>& grad, double lr,
           double grad_divisor, const SlotAccess& access = {});
  // The same for the slots in `order` only (in that order); `grads[i]` is slot i's gradient.
  void run(const std::vector<OwnedSlot>& slots, const std::vector<int>& order, const std::vector<at::Tensor>& grads,
           double lr, double grad_divisor, const SlotAccess& access = {});

  // Starts the update of the slots in `order` on a thread of its own and returns. `slots` and the
  // device gradients must stay as they are until finish(). No collectives run there.
  void start(const std::vector<OwnedSlot>& slots, std::vector<int> order, std::vector<at::Tensor> grads, double lr,
             double grad_divisor);
  // The same, with the slots handed over as their gradients become final: open() starts the thread
  // (after optimizer.begin_step()); submit() queues slots whose gradients `grads[i]` are final in
  // stream order on the caller's stream, `priority` ordering the queue (lowest first); close()
  // says that nothing more comes.
  void open(const std::vector<OwnedSlot>& slots, double lr, double grad_divisor);
  void submit(std::vector<int> order, std::vector<at::Tensor> grads, int priority);
  void close();
  bool running() const { return worker_.joinable(); }
  // Blocks until slot `slot` of the running update has been updated and sent, then makes the
  // caller's device work wait for the copy. Rethrows a failure of the update.
  void wait_slot(int slot);
  // Waits for the whole running update (no-op when none runs; closes an open one). Rethrows a
  // failure of the update.
  void finish();
  ~OffloadedStep();

  // "optimizer state offloaded to cpu (pinned) | fused CPU AdamW, avx2, 8 thread(s) | 4 buffers".
  std::string describe() const;

 private:
  struct Piece {
    int slot;
    int64_t begin, numel;
  };

  // Updates the slots in `order`; calls slot_done(s) after slot s's last piece is sent.
  void update(const std::vector<OwnedSlot>& slots, const std::vector<int>& order, const std::vector<at::Tensor>& grads,
              double lr, double grad_divisor, const SlotAccess& access, const std::function<void(int)>& slot_done);

  HostOptimizer& optimizer_;
  c10::Device device_;
  bool pin_memory_;
  int buffers_;
  int64_t piece_elements_;
  std::unique_ptr<OffloadTransfer> transfer_;

  struct Batch {
    std::vector<int> order;
    std::vector<at::Tensor> grads;  // by slot index
    int priority;
  };
  void work(const std::vector<OwnedSlot>& slots, double lr, double grad_divisor);

  // A running update (open or start): its thread, the slots handed over and not yet taken, which
  // slots it has sent, whether more may come, and its failure if any.
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable slot_sent_, batch_queued_;
  std::vector<Batch> queue_;
  std::vector<char> sent_;
  bool closed_ = false, drained_ = false;
  std::exception_ptr error_;
};

// Elements per piece: 4M (16 MiB of fp32), a multiple of the CPU kernel's 16-element vectors;
// ZS_OFFLOAD_PIECE_ELEMENTS overrides it (tests use small pieces to split slots).
int64_t offload_piece_elements();

}  // namespace zs
