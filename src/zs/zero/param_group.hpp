// A parameter group: parameters that live in one flat, padded buffer and are gathered, reduced and
// stepped together. It is the one object behind every ZeRO stage:
//
//   stage 0-2, and the parameters of stage 3 that stay gathered (outside units, or under the
//   persistence threshold): one group whose full buffer always exists. Its parameters are views
//   into it; after the step the updated chunks are all-gathered into it in place.
//   stage 3 units: one group per unit, "partitioned": between uses only this rank's shard exists
//   (on the device, in host memory or in a file), and the full buffer gets memory just for the
//   unit's forward and backward (gather ... release).
//
// Gradients, per bucket of the layout:
//   grad buffer (stages 0-1): every .grad is a view into a full gradient buffer; backward
//   accumulates in place and the buckets are reduced on the accumulation boundary only.
//   staged (stages 2-3): each gradient is copied into its bucket's staging buffer (in the
//   communication dtype; a layer that can write it there itself is offered the place, see
//   base/grad_place.hpp) and dropped at once; a bucket whose last gradient landed is
//   reduce-scattered into this rank's shard gradient on every micro-step, accumulating over the
//   window. A bucket that is exactly one parameter reduces straight from its .grad.
// Buckets are launched in index order on every rank, so all ranks issue the same collectives in
// the same order; the engine's ReductionQueue bounds how many staged reductions are in flight.
//
// Parameters are tensors on the full buffer's storage, not autograd views of it, so gathering into
// it never bumps the version counters of tensors autograd saved.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/dist/communicator.hpp"
#include "zs/io/tensor_swap.hpp"
#include "zs/zero/flat_layout.hpp"
#include "zs/zero/reduction.hpp"
#include "zs/zero/shard_upload.hpp"

namespace zs {

class ParamSwapper;
class UnitCodec;

struct NamedParam {
  std::string name;
  at::Tensor tensor;   // the module's parameter (a leaf that requires grad)
};

// Fills a parameter (or buffer) that was built on the meta device with its initial value: a
// full-size tensor on the rank's device, given with the parameter's name.
using MetaInit = std::function<void(const std::string& name, at::Tensor& value)>;
// Zeros, for weights that a checkpoint or a Hugging Face directory loads right after.
inline void zero_init(const std::string&, at::Tensor& value) { value.zero_(); }

// Where a partitioned group keeps its 16-bit shard between uses: on the device, in host memory
// (offload_param "cpu": copied to the device just before each gather, pinned when asked), or in a
// file (offload_param "nvme": `nvme` set; read into one of its buffers for each gather and for each
// optimizer step, see zero/param_swapper.hpp).
struct ShardPlacement {
  bool on_host = false;
  bool pin_memory = false;
  ParamSwapper* nvme = nullptr;
};

struct ParamGroupOptions {
  bool partitioned = false;      // only this rank's shard lives between uses (stage 3 units)
  bool grad_buffer = false;      // .grad views into a full gradient buffer, reduced on the boundary
                                 // (stages 0-1); else staged and reduced every micro-step (2-3)
  bool shard_optimizer = true;   // reduced gradients: this rank's chunks (1-3), or whole buckets (0);
                                 // staged groups always shard
  ReducerOptions reduce;
  // Staged: the dtype the reduced shard gradients are kept in (default: the parameters' dtype).
  std::optional<at::ScalarType> shard_grad_dtype;
  ShardPlacement placement;      // partitioned groups only
  // Partitioned groups: ZeRO++'s quantized gathers and secondary partition (unit_codec.hpp); null:
  // plain all-gathers of the primary shards.
  const UnitCodec* codec = nullptr;
};

// The flat layout of a partitioned group: one bucket per weight-decay group, so the whole unit is
// gathered and reduced at once.
FlatLayout make_unit_layout(const std::vector<NamedParam>& params, const std::vector<int>& groups, int world);

class ReductionQueue;

class ParamGroup {
 public:
  // `params` in layout order (the layout's entries match them one to one). Their current values
  // (anywhere, any dtype; on the meta device: made by `meta_init`) are laid out on the device in
  // `tensor_options`' dtype and broadcast from rank 0; a partitioned group then keeps this rank's
  // shard and releases the full buffer. Every parameter then lives on the group's storage.
  ParamGroup(std::string name, std::vector<NamedParam> params, FlatLayout layout, Communicator& comm,
             ReductionQueue& reductions, ParamGroupOptions options, at::TensorOptions tensor_options,
             const MetaInit& meta_init = {});
  ~ParamGroup();
  ParamGroup(const ParamGroup&) = delete;
  ParamGroup& operator=(const ParamGroup&) = delete;

  const std::string& name() const { return name_; }
  const FlatLayout& layout() const { return layout_; }
  const std::vector<NamedParam>& params() const { return params_; }
  int64_t numel() const { return layout_.total_numel; }
  bool partitioned() const { return options_.partitioned; }
  // Bytes of parameter values this rank holds now: the full buffer while it has memory, and the
  // shard (in whatever memory it lives; fp32 masters the optimizer keeps are not counted).
  int64_t resident_bytes() const;
  at::TensorOptions tensor_options() const { return full_.options(); }

  // ---- values --------------------------------------------------------------------------------
  // This rank's values of bucket b, which its optimizer slot updates: its chunk of the full buffer
  // (the whole bucket without shard_optimizer), or of its shard when partitioned (host memory with
  // offload_param "cpu"; with "nvme" only between open_shard() and close_shard()).
  at::Tensor own(int bucket) const;
  int64_t own_begin(int bucket) const;   // where own(bucket) starts in the flat coordinates

  // Partitioned groups: start gathering without waiting (prefetch); gather() waits for it;
  // release() gives the full buffer's memory back. An unpartitioned group is always gathered.
  void start_gather();
  void gather();
  void release();
  bool gathered() const { return state_ != State::released; }
  // While pinned the group stays gathered (release() does nothing): full parameters for user code.
  // A pinning gather is exact: a plain all-gather of the primary shards, whatever the codec does.
  void set_pinned(bool pinned);
  bool pinned() const { return pinned_; }
  // Called before every gather reads the shard (an offloaded step still updating it waits there).
  void set_before_gather(std::function<void()> fn) { before_gather_ = std::move(fn); }
  // Partitioned groups: called once in each boundary backward, when every bucket's reduced
  // gradient is final (in stream order on the caller's stream); an offloaded step may start there.
  void set_after_reduced(std::function<void()> fn) { after_reduced_ = std::move(fn); }
  // hpZ: the parameters changed (optimizer step, checkpoint load), so the secondary copy is stale;
  // its memory goes and the next gather is from the primary shards again. A no-op without hpZ.
  void drop_secondary();
  // Unpartitioned, sharded groups after the step: fills the other ranks' chunks of bucket b in place.
  WorkHandle all_gather_bucket(int bucket);

  // 16-bit training with the optimizer on the device: `masters[b]` (fp32, this rank's chunk of
  // bucket b) become the source of every gather, which rounds them into the full buffer, and the
  // 16-bit shard is dropped: 12 bytes per parameter between steps (not 14) plus gradients.
  void gather_from_masters(std::vector<at::Tensor> masters);
  bool gathers_from_masters() const { return !masters_.empty(); }

  // offload_param "nvme": whether the shard lives in a file; open_shard() puts it into a buffer of
  // the pool (read from the file when `read`, else left for the caller to fill completely) so
  // that own(b) may be read and written; close_shard() writes it back when `write` and lets the
  // buffer go. No-ops for shards in memory.
  bool shard_in_file() const { return nvme_ != nullptr; }
  // offload_param "cpu": the shard's home is host memory (on a CPU rank that is all memory).
  bool shard_on_host() const { return options_.placement.on_host; }
  void open_shard(bool read);
  void close_shard(bool write);

  // ---- gradients -----------------------------------------------------------------------------
  // Around each backward. `boundary`: the last micro-step of the accumulation window; `first`:
  // its first. end_backward() launches what has not been launched (parameters without gradients
  // count as zero), waits for every reduction and releases a partitioned group.
  void begin_backward(bool boundary, bool first);
  void end_backward();
  // This rank's reduced gradient of bucket b (after the boundary's backward; zeros if no backward
  // ran). Staged groups hold them from a window's first reduction until zero_grads().
  at::Tensor shard_grad(int bucket);
  // After the step: the gradient buffer is zeroed, staged shard gradients give their memory back.
  void zero_grads();

 private:
  // reading: offload_param "nvme", the shard is on its way from the file (no collective yet);
  // uploading: offload_param "cpu" with one rank, the shard is on its way to the device.
  enum class State { released, reading, uploading, gathering, gathered };
  void lay_out_values(const MetaInit& meta_init);
  void make_shard(const ShardPlacement& placement);
  void alias_parameters();
  void begin_gather(bool prefetch, bool exact = false);
  void finish_gather();
  void launch_gather(const at::Tensor& source);
  bool has_secondary() const;
  void launch_secondary_gather();
  void fill_secondary();
  void bind_shard(void* data);

  void on_grad_ready(int entry);
  // Staged groups: the slice of the bucket's staging buffer a layer may write parameter `entry`'s
  // gradient into (base/grad_place.hpp), or none; in_its_place: whether `g` is that slice.
  at::Tensor grad_place(int entry);
  bool in_its_place(int entry, const at::Tensor& g) const;
  void attach_grads();
  void mark_ready(int bucket);
  void launch(int bucket);
  at::ScalarType staging_dtype() const;
  bool stages_into_shard_grads() const;
  at::Tensor staging(int bucket);
  void zero_unwritten_staging(int bucket);
  bool has_shard_grads() const;
  void allocate_shard_grads(bool zeroed);

  std::string name_;
  std::vector<NamedParam> params_;
  FlatLayout layout_;
  Communicator& comm_;
  ReductionQueue& reductions_;
  ParamGroupOptions options_;

  // values
  at::Tensor full_;          // the full buffer; partitioned: storage only while gathered
  at::Tensor shard_;         // partitioned: this rank's chunks (16-bit); host/file with offload_param
  std::vector<at::Tensor> masters_;  // set by gather_from_masters: shard_ is then empty
  std::function<void()> before_gather_;
  std::function<void()> after_reduced_;
  ParamSwapper* nvme_ = nullptr;
  int read_buffer_ = -1;     // nvme: the pool buffer of a gather in progress
  SwapHandle read_;          // nvme: its read
  int open_buffer_ = -1;     // nvme: the pool buffer shard_ lives in while open
  State state_ = State::gathered;
  std::vector<WorkHandle> gather_works_;
  std::unique_ptr<ShardUpload> upload_;   // offload_param "cpu": the shard's copy on the device
  bool exact_gather_ = false;   // the gather in progress bypasses the codec (pinning)
  bool pinned_ = false;
  // hpZ: this rank's 1/g of every bucket of the gathered values (g = the codec's secondary group),
  // valid from the first gather after the parameters changed until drop_secondary(); storage only then.
  at::Tensor secondary_;
  bool secondary_valid_ = false;

  // gradients
  at::Tensor grad_buffer_;             // grad buffer mode: full size, .grad views into it
  std::vector<at::Tensor> grad_views_;
  at::Tensor shard_grads_;             // staged: this rank's chunks; storage only while held
  std::vector<at::Tensor> staging_;    // staged, per bucket while it fills
  std::vector<at::Tensor> direct_;     // staged, per single-parameter bucket: its .grad
  // kPlaceTaken: a layer took the gradient's place in the staging buffer (grad_place) and has not
  // delivered it yet.
  enum Seen : char { kNotYet = 0, kWithoutGrad = 1, kWritten = 2, kPlaceTaken = 3 };
  std::vector<char> seen_;             // per parameter in this backward
  std::vector<int> remaining_;         // per bucket: gradients still to land
  std::vector<char> ready_;
  int next_launch_ = 0;
  bool communicate_ = false, first_micro_step_ = true, in_backward_ = false, boundary_ = false;
};

}  // namespace zs
