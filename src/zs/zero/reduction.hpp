// One gradient reduction across ranks, as the config asks for it: in the communication dtype,
// optionally prescaled, as a reduce-scatter or as an all-reduce of which this rank keeps its
// chunk. Shared by the bucketed reducer (stages 0-2 and the gathered parameters of stage 3) and
// the stage-3 units, so both reduce the same way.
#pragma once

#include <deque>
#include <functional>
#include <optional>

#include <ATen/core/Tensor.h>

#include "zs/dist/communicator.hpp"

namespace zs {

class UnitCodec;

struct ReducerOptions {
  bool overlap_comm = true;            // launch reductions during backward
  bool use_reduce_scatter = true;      // false: all-reduce, then keep this rank's chunk
  std::optional<at::ScalarType> comm_dtype;  // reduce in this dtype (default: the gradient dtype)
  double predivide_factor = 1.0;       // prescale_gradients: divide before, multiply after
  bool prescale = false;
  // qgZ (unit_codec.hpp): reduce-scatters go through the codec's quantized all-to-all; null: plain.
  const UnitCodec* codec = nullptr;
};

struct PendingReduction {
  WorkHandle work;
  at::Tensor result;    // where the collective wrote (may alias the input or be a temporary)
  at::Tensor target;    // where the averaged gradient must end up
  bool accumulate = false;
};

// Starts averaging `input` (a padded bucket) over ranks into `target`: the whole bucket when
// `whole_bucket` (stage 0), else this rank's chunk (input.numel() == ranks * target.numel()).
// `accumulate` adds to target instead of overwriting it. `input` may be modified.
PendingReduction start_reduction(Communicator& comm, const at::Tensor& input, const at::Tensor& target,
                                 bool whole_bucket, bool accumulate, const ReducerOptions& options);

// Waits for it (stream-ordered on CUDA) and lands the result in the target.
void finish_reduction(PendingReduction& p, const ReducerOptions& options, int world_size);

// The gradient reductions in flight across every parameter group of an engine, in launch order.
// A staged reduction reads a staging buffer that lives until the reduction is finished; at most
// `max_staged` of those are in flight, so launching one more first finishes the oldest
// (stream-ordered on CUDA: no host stall). With the default of one, a bucket's reduction overlaps
// the backward that fills the next bucket, and at most two staging buffers exist at once (one in
// flight, one filling). Without overlap_comm every reduction is finished as soon as it is launched.
class ReductionQueue {
 public:
  ReductionQueue(Communicator& comm, ReducerOptions options, int max_staged = 1)
      : comm_(comm), options_(options), max_staged_(max_staged) {}

  const ReducerOptions& options() const { return options_; }
  // start_reduction(...) with these options; `staged`: the input is a staging buffer.
  // `on_finished`, when set, runs right after the reduction is finished (its target final in
  // stream order on the caller's stream).
  void launch(const at::Tensor& input, const at::Tensor& target, bool whole_bucket, bool accumulate, bool staged,
              std::function<void()> on_finished = {});
  void finish_all();

 private:
  struct Entry {
    PendingReduction reduction;
    bool staged = false;
    std::function<void()> on_finished;
  };
  void finish_front();

  Communicator& comm_;
  ReducerOptions options_;
  int max_staged_;
  int staged_in_flight_ = 0;
  std::deque<Entry> pending_;
};

}  // namespace zs
