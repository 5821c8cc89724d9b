#include "zs/comm_codec/quantized_collectives.hpp"

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include <ATen/ops/empty.h>

namespace zs {
namespace {

void require(bool ok, const char* collective, const std::string& message) {
  if (!ok) throw std::invalid_argument(std::string(collective) + ": " + message);
}

void require_sizes(const char* collective, int64_t big, int64_t small, int world, const char* big_name) {
  require(big == small * world, collective,
          std::string(big_name) + " has " + std::to_string(big) + " elements, want world size (" +
              std::to_string(world) + ") x " + std::to_string(small));
}

// A started exchange and what restores its result once it is there.
class DecodingWork : public Work {
 public:
  DecodingWork(WorkHandle exchange, std::function<void()> finish)
      : exchange_(std::move(exchange)), finish_(std::move(finish)) {}
  void wait() override {
    if (!finish_) return;
    exchange_->wait();
    auto finish = std::move(finish_);
    finish_ = nullptr;
    finish();  // lets the buffers go once it returns
  }
  bool completed() override { return !finish_ || exchange_->completed(); }

 private:
  WorkHandle exchange_;
  std::function<void()> finish_;
};

}  // namespace

WorkHandle start_quantized_all_gather(Communicator& comm, const BlockQuantizer& quantizer, const at::Tensor& output,
                                      const at::Tensor& input) {
  const int n = comm.size();
  const int64_t m = input.numel();
  require_sizes("quantized_all_gather", output.numel(), m, n, "output");
  require(output.is_contiguous(), "quantized_all_gather", "the output must be contiguous");
  const int64_t chunk = quantizer.packed_bytes(m);
  auto bytes = at::TensorOptions().dtype(at::kByte).device(input.device());
  at::Tensor mine = at::empty({chunk}, bytes);
  at::Tensor all = at::empty({n * chunk}, bytes);
  quantizer.quantize_packed(input, mine);
  WorkHandle exchange = comm.all_gather(all, mine);
  return std::make_shared<DecodingWork>(exchange, [quantizer, output, mine, all, n, m, chunk] {
    at::Tensor flat = output.view({-1});
    for (int r = 0; r < n; ++r)
      quantizer.dequantize_packed(all.slice(0, r * chunk, (r + 1) * chunk), flat.slice(0, r * m, (r + 1) * m));
  });
}

void quantized_all_gather(Communicator& comm, const BlockQuantizer& quantizer, const at::Tensor& output,
                          const at::Tensor& input) {
  start_quantized_all_gather(comm, quantizer, output, input)->wait();
}

WorkHandle start_quantized_reduce_scatter(Communicator& comm, const BlockQuantizer& quantizer,
                                          const at::Tensor& output, const at::Tensor& input, ReduceOp op) {
  const int n = comm.size();
  const int64_t m = output.numel();
  require_sizes("quantized_reduce_scatter", input.numel(), m, n, "input");
  require(op == ReduceOp::sum || op == ReduceOp::avg, "quantized_reduce_scatter", "reduces by sum or avg only");
  require(input.is_contiguous() && output.is_contiguous(), "quantized_reduce_scatter", "tensors must be contiguous");
  const int64_t chunk = quantizer.packed_bytes(m);
  auto bytes = at::TensorOptions().dtype(at::kByte).device(input.device());
  at::Tensor send = at::empty({n * chunk}, bytes);
  at::Tensor recv = at::empty({n * chunk}, bytes);
  at::Tensor flat_in = input.view({-1});
  for (int q = 0; q < n; ++q) {
    quantizer.quantize_packed(flat_in.slice(0, q * m, (q + 1) * m), send.slice(0, q * chunk, (q + 1) * chunk));
  }
  WorkHandle exchange = comm.all_to_all(recv, send);
  const auto float_options = input.options().dtype(at::kFloat);
  return std::make_shared<DecodingWork>(exchange, [quantizer, output, send, recv, n, m, chunk, op, float_options] {
    // Chunk q of recv is rank q's contribution to this rank's output: restore each and add it up in
    // float32, one chunk at a time (two chunks of float32 memory, not one per rank).
    at::Tensor total = at::empty({m}, float_options);
    quantizer.dequantize_packed(recv.slice(0, 0, chunk), total);
    at::Tensor part = n > 1 ? at::empty({m}, float_options) : at::Tensor();
    for (int q = 1; q < n; ++q) {
      quantizer.dequantize_packed(recv.slice(0, q * chunk, (q + 1) * chunk), part);
      total.add_(part);
    }
    if (op == ReduceOp::avg) total.div_(n);
    output.view({-1}).copy_(total);
  });
}

void quantized_reduce_scatter(Communicator& comm, const BlockQuantizer& quantizer, const at::Tensor& output,
                              const at::Tensor& input, ReduceOp op) {
  start_quantized_reduce_scatter(comm, quantizer, output, input, op)->wait();
}

WorkHandle start_hierarchical_quantized_reduce_scatter(const NodeGroups& groups, const BlockQuantizer& node_quantizer,
                                                       const BlockQuantizer& cross_quantizer, const at::Tensor& output,
                                                       const at::Tensor& input, ReduceOp op) {
  const int local = groups.layout.group_size, nodes = groups.layout.num_groups;
  const int64_t m = output.numel();
  require_sizes("hierarchical_quantized_reduce_scatter", input.numel(), m, local * nodes, "input");
  require(op == ReduceOp::sum || op == ReduceOp::avg, "hierarchical_quantized_reduce_scatter",
          "reduces by sum or avg only");
  // World chunk node * local + l ends on the rank with that node and local rank l. Hop 1 gives local
  // peer l every chunk it will own or forward, [nodes][m] for local index l: a transpose of
  // [nodes][local][m] to [local][nodes][m].
  at::Tensor by_peer = input.reshape({nodes, local, m}).transpose(0, 1).contiguous().view({-1});
  at::Tensor partial = at::empty({nodes * m}, input.options().dtype(at::kFloat));
  // avg: each hop divides by its own group's size, in float32, which together is the world's.
  WorkHandle hop1 = start_quantized_reduce_scatter(*groups.node, node_quantizer, partial, by_peer, op);
  std::shared_ptr<Communicator> cross = groups.cross;
  // Once hop 1 is restored (the node's partial sums in `partial`), hop 2 runs across nodes.
  return std::make_shared<DecodingWork>(hop1, [cross, cross_quantizer, output, partial, op] {
    // partial[a] is the node's sum of world chunk a * local + (this local rank), which cross rank a owns.
    start_quantized_reduce_scatter(*cross, cross_quantizer, output, partial, op)->wait();
  });
}

void hierarchical_quantized_reduce_scatter(const NodeGroups& groups, const BlockQuantizer& node_quantizer,
                                           const BlockQuantizer& cross_quantizer, const at::Tensor& output,
                                           const at::Tensor& input, ReduceOp op) {
  start_hierarchical_quantized_reduce_scatter(groups, node_quantizer, cross_quantizer, output, input, op)->wait();
}

}  // namespace zs
