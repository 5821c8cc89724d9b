#include "zs/zero/reduction.hpp"

#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>

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
    const bool direct = !convert && !accumulate;
    p.result = direct ? target : at::empty({target.numel()}, in.options());
    p.work = comm.reduce_scatter(p.result, in, op);
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

}  // namespace zs
