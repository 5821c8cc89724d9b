// One ZeRO-3 unit: its parameters live as this rank's shard only, and are gathered into a full
// buffer just for the unit's forward and backward.
//
//   forward:  gather (or finish a prefetch) -> unit_forward -> release; a hook on the output
//             arranges the re-gather
//   backward: the output hook gathers again before the unit's backward; as the parameters'
//             gradients land they are copied into a staging buffer and dropped; once all have
//             landed the staging buffer is reduce-scattered into this rank's shard gradient and
//             the parameters are released.
//
// "Released" means the full buffer's storage is given back to the allocator (its tensors keep
// their shapes). Parameters are not autograd views of the full buffer, so gathering into it never
// bumps the version counters of tensors autograd saved.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/dist/communicator.hpp"
#include "zs/io/tensor_swap.hpp"
#include "zs/zero/flat_layout.hpp"
#include "zs/zero/flat_params.hpp"
#include "zs/zero/reduction.hpp"
#include "zs/zero/unit.hpp"

namespace zs {

class ParamSwapper;
class UnitSchedule;

// Where a unit keeps its 16-bit shard between uses: on the device, in host memory (offload_param
// "cpu": copied to the device just before each gather, pinned when asked), or in a file
// (offload_param "nvme": `nvme` set; read into one of its buffers for each gather and for each
// optimizer step, see zero/param_swapper.hpp).
struct ShardPlacement {
  bool on_host = false;
  bool pin_memory = false;
  ParamSwapper* nvme = nullptr;
};

// The flat layout a unit of these parameters gets on `world` ranks (one bucket per group).
FlatLayout make_unit_layout(const std::vector<NamedParam>& params, const std::vector<int>& groups, int world);

class ShardedUnit : public UnitHooks {
 public:
  // `params` (in layout order) and `groups` as for make_flat_layout. The parameters may be
  // anywhere (typically still on the host, in fp32): rank 0's values are laid out on the device
  // in `options`' dtype, broadcast, and this rank keeps its shard; the parameters then live on
  // the device (released until gathered).
  ShardedUnit(std::string name, UnitModule& module, std::vector<NamedParam> params, const std::vector<int>& groups,
              Communicator& comm, UnitSchedule& schedule, ReducerOptions options, at::TensorOptions tensor_options,
              ShardPlacement placement = {});
  ~ShardedUnit() override;
  ShardedUnit(const ShardedUnit&) = delete;
  ShardedUnit& operator=(const ShardedUnit&) = delete;

  // Gathers, runs the unit (checkpointed if it asks for it), releases, and arranges the
  // re-gather before the unit's backward.
  at::Tensor run(UnitModule& unit, const at::Tensor& x) override;

  void begin_backward(bool first_micro_step);
  // Reduces whatever has not been reduced (parameters without gradients count as zero), waits for
  // this unit's reductions and releases the parameters.
  void end_backward();
  // Lands this unit's launched gradient reductions (stream-ordered on CUDA) and lets go of their
  // staging buffer. The schedule calls it once a later unit starts reducing, so at most about two
  // units' staging buffers are alive at once, and compute waits only on a reduction that had a
  // whole unit's backward to finish.
  void finish_reductions();

  // Called before every gather reads the shard (the optimizer waits there for an update of this
  // unit that is still running; see ZeroOptimizer::finish_update).
  void set_before_gather(std::function<void()> fn) { before_gather_ = std::move(fn); }

  // Starts gathering without waiting (prefetch); gather() waits for it.
  void start_gather();
  void gather();
  void release();
  bool gathered() const { return state_ != State::released; }
  // While pinned the unit stays gathered (release() does nothing): full parameters for user code.
  void set_pinned(bool pinned);
  bool pinned() const { return pinned_; }

  const std::string& name() const { return name_; }
  const FlatLayout& layout() const { return layout_; }
  const std::vector<NamedParam>& params() const { return params_; }
  int64_t numel() const { return layout_.total_numel; }
  // This rank's 16-bit chunk of a bucket (host memory with offload_param "cpu"; with "nvme" its
  // values are there only between open_shard() and close_shard()).
  at::Tensor shard(int bucket) const;
  // Its reduced gradient (after the boundary backward; zeros if no backward ran). Held from a
  // window's first reduction until drop_shard_grads(), which the step calls once it used them.
  at::Tensor shard_grad(int bucket);
  void drop_shard_grads();
  int64_t own_begin(int bucket) const;      // where that chunk sits in the unit's flat coordinates

  // 16-bit training with the optimizer on the device: `masters[b]` (fp32, this rank's chunk of
  // bucket b) become the source of every gather, which rounds them into the full buffer, and the
  // 16-bit shard is dropped: model states are then 12 bytes per parameter (not 14) plus gradients.
  // shard(b) has no storage afterwards.
  void gather_from_masters(std::vector<at::Tensor> masters);
  bool gathers_from_masters() const { return !masters_.empty(); }

  // offload_param "nvme": whether the shard lives in a file; open_shard() puts it into a buffer of
  // the pool (read from the file when `read`, else left for the caller to fill completely) so
  // that shard(b) may be read and written; close_shard() writes it back to the file when `write`
  // and lets the buffer go. No-ops for shards in memory.
  bool shard_in_file() const { return nvme_ != nullptr; }
  void open_shard(bool read);
  void close_shard(bool write);

 private:
  // reading: offload_param "nvme", the shard is on its way from the file (no collective yet).
  enum class State { released, reading, gathering, gathered };
  void begin_gather(bool prefetch);
  void launch_gather(const at::Tensor& source);
  void bind_shard(void* data);
  at::Tensor after_forward(const at::Tensor& output);
  void on_grad_ready(int entry);
  void before_backward();
  void reduce_gradients();
  void zero_unwritten_staging();
  bool has_shard_grads() const;
  void allocate_shard_grads(bool zeroed);

  std::string name_;
  UnitModule& module_;
  std::vector<NamedParam> params_;
  FlatLayout layout_;
  Communicator& comm_;
  UnitSchedule& schedule_;
  ReducerOptions options_;   // the same gradient-reduction settings as the gathered parameters

  at::Tensor full_;         // the gathered parameters; storage present only while gathered
  // This rank's chunks, concatenated (16-bit); on the host with offload_param; with "nvme" its
  // storage is a pool buffer while open, else empty.
  at::Tensor shard_;
  std::vector<at::Tensor> masters_;  // set by gather_from_masters: shard_ is then empty
  std::function<void()> before_gather_;
  ParamSwapper* nvme_ = nullptr;
  int read_buffer_ = -1;    // nvme: the pool buffer of a gather in progress
  SwapHandle read_;         // nvme: its read
  int open_buffer_ = -1;    // nvme: the pool buffer shard_ lives in while open
  at::Tensor shard_grads_;  // their reduced gradients (communication dtype); storage only while held
  at::Tensor staging_;      // gradients of the running backward, full size
  State state_ = State::released;
  std::vector<WorkHandle> gather_works_;
  std::vector<PendingReduction> pending_;
  std::vector<char> seen_;  // per parameter: 0 no gradient yet, 1 seen without one, 2 copied into staging
  int remaining_ = 0;
  bool first_micro_step_ = true, in_backward_ = false, reduced_ = false, pinned_ = false;
};

}  // namespace zs
