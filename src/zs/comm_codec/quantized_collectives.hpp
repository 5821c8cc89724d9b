// Collectives that carry blockwise-quantized data (block_quantizer.hpp), ZeRO++'s two codecs:
//   quantized_all_gather      weights (qwZ): quantize the local shard, all-gather payload and
//                             scales in one uint8 buffer, dequantize every rank's part.
//   quantized_reduce_scatter  gradients (qgZ): quantize each destination's chunk, all_to_all,
//                             dequantize what arrived and sum it in float32. Each rank's
//                             contribution carries its own quantization error (<= scale / 2 per
//                             element), so the sum's error is bounded by the sum of those.
//   hierarchical_quantized_reduce_scatter  the same in two hops: all_to_all within the node
//                             group, partial sums, then all_to_all across nodes (node_groups.hpp),
//                             so the slow cross-node link carries 1 / group size of the data.
// Each call returns when its result is usable: on CPU, when it is there; on CUDA, once the
// caller's current stream is ordered after the collective and the dequantizing kernels run on it.
// Every rank of the communicator calls it with the same sizes and the same quantizer.
// The start_* forms are asynchronous (what the engine's stage-3 gathers and reductions use):
// they quantize and start the exchange at once and return a Work whose wait() waits for it and
// restores the result into `output` (the wait that a plain collective would have); the Work keeps
// its buffers alive. completed() probes the exchange only: wait() must still be called.
#pragma once

#include <ATen/core/Tensor.h>

#include "zs/comm_codec/block_quantizer.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/node_groups.hpp"

namespace zs {

// output.numel() == comm.size() * input.numel(); chunk r of output is rank r's input after a
// round trip through `quantizer`. input: float32/bfloat16/float16; output: any of them.
void quantized_all_gather(Communicator& comm, const BlockQuantizer& quantizer, const at::Tensor& output,
                          const at::Tensor& input);

// input.numel() == comm.size() * output.numel(); rank r gets the sum (or average) over ranks of
// their input chunk r, each chunk quantized on its own. op: sum or avg.
void quantized_reduce_scatter(Communicator& comm, const BlockQuantizer& quantizer, const at::Tensor& output,
                              const at::Tensor& input, ReduceOp op);

// The same result as quantized_reduce_scatter over the whole world (chunk r goes to world rank r),
// reduced first within groups.node (quantized by node_quantizer) and then across groups.cross
// (cross_quantizer; DeepSpeed's qgZ sends int4 within the node and int8 across). The error is
// bounded by both hops' errors together.
void hierarchical_quantized_reduce_scatter(const NodeGroups& groups, const BlockQuantizer& node_quantizer,
                                           const BlockQuantizer& cross_quantizer, const at::Tensor& output,
                                           const at::Tensor& input, ReduceOp op);

WorkHandle start_quantized_all_gather(Communicator& comm, const BlockQuantizer& quantizer, const at::Tensor& output,
                                     const at::Tensor& input);
WorkHandle start_quantized_reduce_scatter(Communicator& comm, const BlockQuantizer& quantizer,
                                          const at::Tensor& output, const at::Tensor& input, ReduceOp op);
// The first hop starts at once; wait() finishes it and runs the second.
WorkHandle start_hierarchical_quantized_reduce_scatter(const NodeGroups& groups, const BlockQuantizer& node_quantizer,
                                                       const BlockQuantizer& cross_quantizer, const at::Tensor& output,
                                                       const at::Tensor& input, ReduceOp op);

}  // namespace zs
