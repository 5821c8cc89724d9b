// quantized_collectives_probe: quantized all-gather and reduce-scatter (single hop and through node
// groups) against the plain collectives on the same data, within the error bound each states.
// Started by tests/test_quantized_collectives.cpp through `zsrun --num_procs N`. Rank 0 prints one
// "[quantized] ..." line per case with the measured error and its bound; every rank prints
// "rank R ok: N checks".
//   --device cuda   run on cuda:LOCAL_RANK through NCCL (GPU machines)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/sin.h>
#include <ATen/ops/zeros.h>

#include "zs/comm_codec/quantized_collectives.hpp"
#include "zs/dist/collective_checks.hpp"
#include "zs/dist/node_groups.hpp"
#include "zs/dist/world.hpp"

namespace {

int g_rank = 0;
int g_checks = 0;

// Rank r's data: magnitudes that change every 100 elements (1x .. 1000x) and differ between ranks.
at::Tensor rank_data(int r, int64_t numel) {
  auto i = at::arange(numel, at::kDouble);
  auto magnitude = at::pow(10.0, (i.div(100, "floor") + r).remainder(4));
  return (at::sin(i * 0.731 + 1.3 * r + 0.2) * magnitude).to(at::kFloat);
}

// Per element of x (viewed as `chunks` chunks quantized separately): half the scale of its block.
at::Tensor half_scales(const at::Tensor& x, int64_t chunks, const zs::BlockQuantizer& q) {
  const int64_t m = x.numel() / chunks, block = q.block_size();
  auto out = at::empty({x.numel()}, at::kDouble);
  auto a = x.to(at::kDouble).abs();
  for (int64_t c = 0; c < chunks; ++c) {
    for (int64_t lo = 0; lo < m; lo += block) {
      const int64_t hi = std::min(m, lo + block);
      out.slice(0, c * m + lo, c * m + hi).fill_(a.slice(0, c * m + lo, c * m + hi).max().item<double>() / q.qmax() / 2);
    }
  }
  return out;
}

void check(const std::string& name, const at::Tensor& got, const at::Tensor& exact, const at::Tensor& bound) {
  ++g_checks;
  auto err = (got.cpu().to(at::kDouble) - exact.cpu().to(at::kDouble)).abs();
  // Float32 sums and roundings on top of the bound: a relative 1e-5 of the exact value.
  auto slack = exact.cpu().to(at::kDouble).abs() * 1e-5 + 1e-6;
  const double ratio = (err / (bound + slack)).max().item<double>();
  const double max_err = err.max().item<double>(), max_val = exact.cpu().abs().max().item<double>();
  if (g_rank == 0) {
    std::printf("[quantized] %s: max error %.4g (%.3g%% of max |exact| %.4g), %.3f of its bound\n", name.c_str(),
                max_err, 100 * max_err / max_val, max_val, ratio);
  }
  if (!(ratio <= 1.0)) {
    std::fprintf(stderr, "rank %d FAILED: %s: error %.4g is %.3f times its bound\n", g_rank, name.c_str(), max_err, ratio);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto pref = zs::DevicePreference::cpu;
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--device")) pref = std::strcmp(argv[++i], "cuda") ? zs::DevicePreference::cpu : zs::DevicePreference::cuda;
  zs::World world = zs::init_distributed(pref);
  zs::Communicator& comm = *world.comm;
  g_rank = comm.rank();
  const int r = comm.rank(), n = comm.size();
  const auto dev = world.device;
  const int64_t m = 1000;  // per-rank chunk: not a multiple of the blocks
  std::vector<at::Tensor> inputs;  // every rank's reduce-scatter input, known to all (for the bounds)
  for (int q = 0; q < n; ++q) inputs.push_back(rank_data(q, n * m));

  for (int bits : {8, 4}) {
    for (int64_t block : {int64_t(64), int64_t(256)}) {
      zs::BlockQuantizer quant(bits, block);
      const std::string tag = "int" + std::to_string(bits) + " block " + std::to_string(block);
      for (auto dtype : {at::kFloat, at::kBFloat16}) {
        const std::string name = tag + " " + zs::dtype_name(dtype);
        // All-gather: chunk q of the output is rank q's shard, each within its own blocks' bound.
        auto shard = rank_data(r, m).to(dtype).to(dev);
        auto exact = at::empty({n * m}, shard.options());
        comm.all_gather(exact, shard)->wait();
        auto got = at::empty({n * m}, shard.options());
        zs::quantized_all_gather(comm, quant, got, shard);
        auto bound = half_scales(exact.cpu(), n, quant);
        if (dtype == at::kBFloat16) bound = bound + exact.cpu().to(at::kDouble).abs() / 256;  // the output's rounding
        check("all_gather " + name, got, exact, bound);
      }
      // Reduce-scatter: rank q's chunk r carries its own blocks' error; the sum carries them all.
      auto input = inputs[r].to(dev);
      auto exact = at::empty({m}, input.options());
      comm.reduce_scatter(exact, input, zs::ReduceOp::sum)->wait();
      auto bound = at::zeros({m}, at::kDouble);
      for (int q = 0; q < n; ++q) bound += half_scales(inputs[q], n, quant).slice(0, r * m, (r + 1) * m);
      auto got = at::empty({m}, input.options());
      zs::quantized_reduce_scatter(comm, quant, got, input, zs::ReduceOp::sum);
      check("reduce_scatter sum " + tag, got, exact, bound);
      zs::quantized_reduce_scatter(comm, quant, got, input, zs::ReduceOp::avg);
      check("reduce_scatter avg " + tag, got, exact / n, bound / n);
    }
  }

  // Two hops through emulated nodes of two ranks: int4 within the node, int8 across (qgZ's choice).
  if (n % 2 == 0 && n >= 4) {
    zs::NodeGroups groups = zs::make_node_groups(world, 2);
    zs::BlockQuantizer node_quant(4, 256), cross_quant(8, 256);
    auto input = inputs[r].to(dev);
    auto exact = at::empty({m}, input.options());
    comm.reduce_scatter(exact, input, zs::ReduceOp::sum)->wait();
    // Hop 1: each rank's contribution within half a scale of a block of its data (at most its max|x|);
    // hop 2: each node's partial sum within half a scale of the partial sums' blocks.
    double hop1 = 0, hop2 = 0;
    for (int node = 0; node < n / 2; ++node) {
      double node_max = 0;
      for (int q = 2 * node; q < 2 * node + 2; ++q) {
        const double a = inputs[q].abs().max().item<double>();
        hop1 += a / node_quant.qmax() / 2;
        node_max += a * (1 + 1.0 / node_quant.qmax());
      }
      hop2 += node_max / cross_quant.qmax() / 2;
    }
    auto got = at::empty({m}, input.options());
    zs::hierarchical_quantized_reduce_scatter(groups, node_quant, cross_quant, got, input, zs::ReduceOp::sum);
    check("hierarchical reduce_scatter int4 in node, int8 across", got, exact, at::full({m}, hop1 + hop2, at::kDouble));
    // The same with int8 on both hops, averaged.
    zs::hierarchical_quantized_reduce_scatter(groups, cross_quant, cross_quant, got, input, zs::ReduceOp::avg);
    check("hierarchical reduce_scatter int8 both hops, avg", got, exact / n,
          at::full({m}, (hop1 * node_quant.qmax() / cross_quant.qmax() + hop2) / n, at::kDouble));
  }
  comm.barrier();
  std::printf("rank %d ok: %d checks\n", r, g_checks);
  return 0;
}
