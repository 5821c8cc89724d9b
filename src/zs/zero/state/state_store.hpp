// Where the fp32 master weights and the optimizer state of the optimizer's slots live, and where
// their update runs. One interface, three stores:
//
//   DeviceStateStore  beside the parameters; the device's optimizer updates them in stream order
//   HostStateStore    in host memory; the CPU updates them piece by piece with the copies
//                     overlapped, on a thread of its own when the update is to overlap the device's
//                     next forward (or backward)
//   NvmeStateStore    in files under nvme_path; host memory holds a ring of piece records
//
// ZeroOptimizer keeps what needs every slot at once (the overflow check, the global norm,
// clipping, publishing the new values) and hands each store its own slots; offload_optimizer.ratio
// below 1 puts a host and a device store side by side. Checkpoints read and write every store's
// state the same way (state()).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/optim/optimizer.hpp"
#include "zs/zero/flat_layout.hpp"
#include "zs/zero/param_group.hpp"

namespace zs {

// One optimizer slot: a bucket's worth of parameter values this rank owns.
struct OwnedSlot {
  const FlatLayout* layout;                 // the layout the bucket belongs to
  const std::vector<NamedParam>* params;    // that layout's parameters
  int bucket = 0;
  int64_t own_begin = 0;                    // where `own` starts in the layout's flat coordinates
  at::Tensor own;                           // this rank's parameter values (16-bit, or fp32); with
                                            // offload_param "nvme" reachable only while the unit's
                                            // shard is open (ParamGroup::open_shard); no storage
                                            // for a unit that gathers from its masters
  at::Tensor master;                        // fp32 master values where they live in memory (== own
                                            // in fp32 training on the device); undefined in files
  ParamGroup* group = nullptr;              // the group holding it (partitioned: a ZeRO-3 unit)

  // The reduced gradient of this rank's part (on the device).
  at::Tensor grad() const { return group->shard_grad(bucket); }
};

// Called around a store's work on each slot, in slot order: open(slot) before the slot's values
// are touched, close(slot) after. offload_param "nvme" brings a unit's shard into a pool buffer
// with them and writes it back to its file afterwards (zero/param_swapper.hpp). Either may be empty.
struct SlotAccess {
  std::function<void(int slot)> open, close;
  bool empty() const { return !open && !close; }
  // For work in pieces: `piece_slots[k]` is piece k's slot.
  void before(const std::vector<int>& piece_slots, size_t k) const {
    if (open && (k == 0 || piece_slots[k - 1] != piece_slots[k])) open(piece_slots[k]);
  }
  void after(const std::vector<int>& piece_slots, size_t k) const {
    if (close && (k + 1 == piece_slots.size() || piece_slots[k + 1] != piece_slots[k])) close(piece_slots[k]);
  }
};

// One step's learning rate and gradient divisor (loss scale and clipping folded together).
class StepScale {
 public:
  StepScale(double lr, std::optional<at::Tensor> divisor) : lr_(lr), divisor_(std::move(divisor)) {}
  double lr() const { return lr_; }
  // On the device, so the device's update needs no wait; none: 1.
  const std::optional<at::Tensor>& divisor() const { return divisor_; }
  // The same as a number, for the CPU: read once (it waits for the device's norm).
  double host_divisor() const {
    if (!host_divisor_) host_divisor_ = divisor_ ? divisor_->item<double>() : 1.0;
    return *host_divisor_;
  }

 private:
  double lr_;
  std::optional<at::Tensor> divisor_;
  mutable std::optional<double> host_divisor_;
};

// Elements [begin, begin + numel) of one slot's master and optimizer state, as checkpoints move
// them: read(key) gives "master" or a state key's values (fp32, 1-D); write(key, offset, values)
// replaces `values.numel()` of them from `offset` on. Where they live in memory `master` and
// `state` are the same elements as views.
struct SlotStateRange {
  std::vector<std::string> keys;                    // the state keys besides "master": exp_avg, ...
  at::Tensor master;                                // views; undefined/empty in files
  std::map<std::string, at::Tensor> state;
  std::function<at::Tensor(const std::string& key)> read;
  std::function<void(const std::string& key, int64_t offset, const at::Tensor& values)> write;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Takes optimizer slot `index` (slots come in increasing index order, each to one store) with
  // its weight decay; its master starts as the slot's values in fp32. Sets slot.master where the
  // master lives in memory.
  virtual void attach(OwnedSlot& slot, int index, double weight_decay) = 0;
  // Once every slot is attached (NVMe writes the initial records).
  virtual void attached(const std::vector<OwnedSlot>& slots, const SlotAccess& access) {}
  const std::vector<int>& slots() const { return attached_; }

  // The optimizer of the attached slots: hyper-parameters, step counts.
  virtual Optimizer& optimizer() = 0;

  // One step's update, after optimizer().begin_step(): open(), submit() the attached slots (in
  // groups, each once) whose reduced gradients are final in stream order on the caller's stream,
  // close() once nothing more comes, finish() to wait for all of it. `priority` orders groups not
  // yet started (lowest first). In the `background` (where can_run_in_background()) submit()
  // returns at once and the update runs on a thread while the caller goes on; wait(slot) blocks
  // until that slot's new values are on their way and orders the caller's device work after them.
  // Otherwise submit() returns with the slots updated. The new values go into each slot's `own`
  // (except for units that gather from their masters). `access` brings shards that live in files
  // in and out (not in the background).
  virtual void open(const std::vector<OwnedSlot>& slots, const StepScale& scale, bool background,
                    const SlotAccess& access) = 0;
  virtual void submit(std::vector<int> order, int priority) = 0;
  virtual void close() {}
  virtual void wait(int slot) {}
  virtual void finish() {}
  virtual bool running() const { return false; }
  virtual bool can_run_in_background() const { return false; }

  // Writes every attached slot's master into its values (after a checkpoint load wrote masters).
  virtual void copy_masters(const std::vector<OwnedSlot>& slots, const SlotAccess& access) = 0;
  // Elements [begin, begin + numel) of slot `index`'s master and state, for checkpoints. Writes
  // reach the values the next step reads at the latest with copy_masters(). By default the
  // master and state live in memory (slot.master and optimizer().state()).
  virtual SlotStateRange state(const OwnedSlot& slot, int index, int64_t begin, int64_t numel);

  // "optimizer state offloaded to cpu (pinned) | fused CPU AdamW, avx2, 8 thread(s) | ...".
  virtual std::string describe() const = 0;

 protected:
  // Bookkeeping for attach(): slot `index` is slot `number` of optimizer().
  void remember(int index, int number);
  int number(int index) const { return number_.at(size_t(index)); }
  // copy_masters() where the masters live in memory: each attached slot's `own` from its
  // `master`, except for units that gather from their masters (they hold no values of their own).
  void copy_masters_in_memory(const std::vector<OwnedSlot>& slots, const SlotAccess& access) const;

  std::vector<int> attached_;  // the attached slots' indices, increasing

 private:
  std::vector<int> number_;    // slot index -> its number in optimizer() (-1: not attached)
};

}  // namespace zs
