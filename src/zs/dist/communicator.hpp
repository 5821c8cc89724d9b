// Collectives over tensors: the one interface the ZeRO layer talks to.
//
// Every collective is asynchronous and returns a Work handle. For CUDA tensors the collective runs
// on the communicator's own stream, ordered after the work already queued on the caller's current
// stream; Work::wait() makes the caller's current stream wait for it (the host does not block).
// For CPU tensors Work::wait() blocks until the data is there. A collective that does not complete
// within the communicator's timeout ends the process with a message naming the rank, the
// collective and its size (a dead or hung peer must never hang the job forever).
//
// Tensors must be contiguous and stay alive, unmodified, until the Work completes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>

namespace zs {

enum class ReduceOp { sum, avg, max, min };

class Work {
 public:
  virtual ~Work() = default;
  // CUDA: the current stream waits for the collective. CPU: blocks until done (or times out).
  virtual void wait() = 0;
  // Non-blocking probe: true once the collective has finished.
  virtual bool completed() = 0;
};
using WorkHandle = std::shared_ptr<Work>;

// Told of every collective once it has finished, for comms_logger and wall_clock_breakdown. Called
// from the communicator's own threads as well as the caller's: implementations lock.
class CollectiveObserver {
 public:
  virtual ~CollectiveObserver() = default;
  // op: "all_reduce", "reduce_scatter", "all_gather", "all_to_all" or "broadcast". bytes: the
  // message size as nccl-tests counts it (all_gather: the gathered output; reduce_scatter and
  // all_to_all: the input; otherwise the tensor). seconds: the collective's own time (NCCL: between
  // CUDA events around it on the communicator's stream; MPI: from its start until a wait or test
  // finds it done).
  virtual void finished(const char* op, int64_t bytes, double seconds) = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;   // "nccl", "mpi", "self"

  // In place: every rank ends with op(tensor over ranks).
  virtual WorkHandle all_reduce(const at::Tensor& tensor, ReduceOp op) = 0;
  // input.numel() == size() * output.numel(); rank r gets op over ranks of input chunk r.
  virtual WorkHandle reduce_scatter(const at::Tensor& output, const at::Tensor& input, ReduceOp op) = 0;
  // output.numel() == size() * input.numel(); chunk r of output is rank r's input.
  virtual WorkHandle all_gather(const at::Tensor& output, const at::Tensor& input) = 0;
  // input.numel() == output.numel() == size() * chunk: chunk q of input goes to rank q, and chunk q of
  // output comes from rank q (equal splits; the exchange ZeRO++'s quantized reduce-scatter runs).
  virtual WorkHandle all_to_all(const at::Tensor& output, const at::Tensor& input) = 0;
  // In place: every rank ends with root's tensor.
  virtual WorkHandle broadcast(const at::Tensor& tensor, int root) = 0;
  // Blocks until every rank has reached it.
  virtual void barrier() = 0;

  // Splits the ranks into groups, each with a communicator of its own (ZeRO++'s node-local and
  // cross-node groups): ranks that pass the same `color` form one group, ranked by `key` (ties by
  // rank here). A negative color joins no group and gets null. Collective: every rank of this
  // communicator calls it, with no collective of this communicator in flight on another thread.
  // The group's collectives have this communicator's device, timeout and failure handling, and
  // report to the same progress record as every other collective of the process; the observer is
  // not inherited (set one on the group to time its collectives).
  virtual std::shared_ptr<Communicator> split(int color, int key) = 0;

  // Ends every rank's communication after a local error (NCCL: ncclCommAbort; MPI: MPI_Abort).
  [[noreturn]] virtual void abort(const std::string& why) = 0;

  // Times every collective started from now on and reports it to `observer` (null: stop). Set it
  // while no collective is in flight. A single rank has no collectives to report.
  void set_observer(std::shared_ptr<CollectiveObserver> observer) { observer_ = std::move(observer); }
  const std::shared_ptr<CollectiveObserver>& observer() const { return observer_; }

 private:
  std::shared_ptr<CollectiveObserver> observer_;
};

}  // namespace zs
