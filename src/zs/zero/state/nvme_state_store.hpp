// The optimizer state on NVMe ("offload_optimizer": {"device": "nvme", "nvme_path": ...}); see
// state_store.hpp.
//
// The fp32 master weights and optimizer state of every slot live in files under
// <nvme_path>/zeroshard_rank<r>/ (io/tensor_swap.hpp), not in host memory. Slots are cut into pieces
// (offload_piece_elements()); a piece's record holds its master and each state tensor side by
// side, [master | exp_avg | exp_avg_sq] for Adam, so a piece moves in one read and one write.
// Host memory holds only a ring of buffer_count piece records. The step, piece by piece:
//
//   piece k+1 .. k+B-2: record read from the file (pipeline_read; B-1 ahead without pipeline_write)
//   piece k:            shard gradient device -> host, CPU update of the record (the kernels of
//                       device "cpu"), 16-bit values (or fp32 masters) host -> device
//   piece k-1:          record written back (pipeline_write: waited only before its buffer is reused)
//
// Without pipeline_read a piece's record is read when its turn comes; without pipeline_write each
// write is waited for at once. In the background (offloaded_state_store.hpp) this runs on a thread
// of its own while the device goes on, as with the state in host memory: at stage 3 a unit's
// gather waits only for its own slots. Checkpoints reach the records through state(), which keeps
// one piece in a ring buffer between calls.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "zs/config/config.hpp"
#include "zs/zero/state/offloaded_state_store.hpp"

namespace zs {

class TensorSwapStore;

class NvmeStateStore final : public OffloadedStateStore {
 public:
  // Checks the config (fast_init is refused: the initial state is always written). Nothing is
  // written until attached().
  NvmeStateStore(std::unique_ptr<HostOptimizer> optimizer, c10::Device device, const OffloadConfig& config, int rank);
  ~NvmeStateStore() override;

  void attach(OwnedSlot& slot, int index, double weight_decay) override;
  // Opens the files (checks that nvme_path exists, is writable and has room for every record)
  // and writes each slot's initial master (its `own` values in fp32) and zero state.
  void attached(const std::vector<OwnedSlot>& slots, const SlotAccess& access) override;
  void copy_masters(const std::vector<OwnedSlot>& slots, const SlotAccess& access) override;
  SlotStateRange state(const OwnedSlot& slot, int index, int64_t begin, int64_t numel) override;
  // "optimizer state offloaded to nvme (/nvme/zeroshard_rank0, io_uring, 1.23 GB) | ..."
  std::string describe() const override;

 private:
  void update(const Batch& batch, const SlotAccess& access, const std::function<void(int)>& slot_done) override;
  int64_t record_elements(int64_t numel) const;  // (1 + states) x numel, padded for O_DIRECT
  at::Tensor record(int buffer, const Piece& piece) const;
  // A record's part: 0 the master, 1.. the state tensors.
  at::Tensor part(const at::Tensor& record, const Piece& piece, int index) const;
  std::string key(size_t piece) const { return "piece" + std::to_string(piece); }
  int part_index(const std::string& key) const;
  // "master" or a state key of slot `slot`, elements [begin, begin + numel): read into a new host
  // fp32 tensor, or overwritten with `values` (reaching the file at the latest on flush()).
  at::Tensor read(int slot, const std::string& key, int64_t begin, int64_t numel);
  void write(int slot, const std::string& key, int64_t begin, const at::Tensor& values);
  void flush();
  // The cached piece for read()/write(): brought into ring buffer 0.
  at::Tensor cached(size_t piece);

  OffloadConfig config_;
  int rank_;
  std::vector<std::string> state_keys_;
  std::vector<Piece> pieces_;
  std::vector<int> piece_slots_;                  // piece -> its slot (for SlotAccess)
  std::vector<std::vector<size_t>> slot_pieces_;  // slot index -> its pieces, in order
  std::vector<at::Tensor> ring_;                  // buffer_count records, aligned for O_DIRECT
  std::unique_ptr<TensorSwapStore> store_;
  int64_t cached_piece_ = -1;  // the piece ring_[0] holds for read()/write(), -1: none
  bool cached_dirty_ = false;
};

}  // namespace zs
