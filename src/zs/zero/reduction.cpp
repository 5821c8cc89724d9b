#include "zs/zero/reduction.hpp"

#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>

#include "zs/zero/unit_codec.hpp"

namespace zs {

PendingReduction start_reduction(Communicator& comm, const at::Tensor& input, const at::Tensor& target,
                                 bool whole_bucket, bool accumulate, const ReducerOptions& options) {
  c10::NoGradGuard no_grad;
  at::Tensor in = input;
  const bool convert = options.comm_dtype && *options.comm_dtype != in.scalar_type();
  if (convert) in = in.to(*options.comm_dtype);
  if (options.prescale) in.div_(options.predivide_factor);
  const ReduceOp op = options.prescale ? ReduceOp::sum : ReduceOp::avg;

  PendingReduction p;
  p.target = target;
  p.accumulate = accumulate;
  if (whole_bucket) {
    p.work = comm.all_reduce(in, op);
    p.result = in;
  } else if (options.use_reduce_scatter) {
    const bool direct = !accumulate && target.scalar_type() == in.scalar_type();
    p.result = direct ? target : at::empty({target.numel()}, in.options());
    p.work = options.codec ? options.codec->reduce_scatter(comm, p.result, in, op) : comm.reduce_scatter(p.result, in, op);
  } else {
    p.work = comm.all_reduce(in, op);
    p.result = in.narrow(0, comm.rank() * target.numel(), target.numel());
  }
  return p;
}

void finish_reduction(PendingReduction& p, const ReducerOptions& options, int world_size) {
  c10::NoGradGuard no_grad;
  p.work->wait();
  if (options.prescale) p.result.mul_(options.predivide_factor / world_size);
  if (p.result.data_ptr() == p.target.data_ptr()) return;
  if (p.accumulate)
    p.target.add_(p.result);
  else
    p.target.copy_(p.result);
}

void ReductionQueue::launch(const at::Tensor& input, const at::Tensor& target, bool whole_bucket, bool accumulate,
                            bool staged, std::function<void()> on_finished) {
  if (staged) {
    while (staged_in_flight_ >= max_staged_) finish_front();
    ++staged_in_flight_;
  }
  pending_.push_back(
      Entry{start_reduction(comm_, input, target, whole_bucket, accumulate, options_), staged, std::move(on_finished)});
  if (!options_.overlap_comm) finish_all();
}

void ReductionQueue::finish_front() {
  Entry& e = pending_.front();
  finish_reduction(e.reduction, options_, comm_.size());
  if (e.staged) --staged_in_flight_;
  std::function<void()> on_finished = std::move(e.on_finished);
  pending_.pop_front();  // lets go of the staging buffer (ordered after the collective that read it)
  if (on_finished) on_finished();
}

void ReductionQueue::finish_all() {
  while (!pending_.empty()) finish_front();
}

}  // namespace zs
