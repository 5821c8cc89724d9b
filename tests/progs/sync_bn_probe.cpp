// sync_bn_probe: SyncBatchNorm across real ranks against plain BatchNorm over the whole batch in
// one process. Every rank builds the same global batch (seeded), keeps its own slice, and runs
// three training forwards and backwards of a zs::BatchNorm2d converted to SyncBatchNorm; rank 0
// then repeats them with an unconverted BatchNorm2d on the whole batch (each rank's loss is the
// mean over its own slice; their average is the objective) and prints the largest relative
// differences of outputs, input gradients, parameter gradients (averaged over ranks, as the engine
// does) and running statistics:  "max relative difference: output X grad_input X grad_weight X ...".
//   zsrun --num_procs N sync_bn_probe      (the global batch 6 splits as evenly as it can)
#include <algorithm>
#include <cstdio>
#include <vector>

#include <ATen/ops/cat.h>
#include <ATen/ops/randn.h>
#include <torch/utils.h>

#include "zs/dist/rank_sum.hpp"
#include "zs/dist/world.hpp"
#include "zs/models/cnn/batch_norm.hpp"

namespace {

double relative(const at::Tensor& got, const at::Tensor& want) {
  return (got.to(at::kDouble) - want.to(at::kDouble)).abs().max().item<double>() /
         std::max(want.to(at::kDouble).abs().max().item<double>(), 1e-30);
}

zs::BatchNorm2d make_bn() {
  torch::manual_seed(3);
  zs::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(4).momentum(0.2));
  torch::NoGradGuard no_grad;
  bn->weight.uniform_(0.5, 1.5);
  bn->bias.uniform_(-0.5, 0.5);
  return bn;
}

}  // namespace

int main() {
  zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
  const int rank = world.rank(), size = world.size();
  const int64_t global_batch = 6;
  // This rank's rows of the global batch (the first ranks take one more when it does not divide).
  std::vector<int64_t> begin(size + 1, 0);
  for (int r = 0; r < size; ++r) begin[r + 1] = begin[r] + global_batch / size + (r < global_batch % size ? 1 : 0);

  torch::manual_seed(11);
  std::vector<at::Tensor> batches, upstreams;
  for (int step = 0; step < 3; ++step) {
    batches.push_back(at::randn({global_batch, 4, 3, 5}) * 2 + 1);
    upstreams.push_back(at::randn({global_batch, 4, 3, 5}));
  }

  zs::BatchNorm2d synced = make_bn();
  zs::convert_sync_batchnorm(*synced, zs::differentiable_rank_sum(world.comm));
  std::vector<at::Tensor> outputs, grad_inputs;
  at::Tensor grad_weight = at::zeros({4}), grad_bias = at::zeros({4});
  for (int step = 0; step < 3; ++step) {
    at::Tensor x = batches[step].narrow(0, begin[rank], begin[rank + 1] - begin[rank]).clone().requires_grad_(true);
    at::Tensor y = synced->forward(x);
    at::Tensor loss = (y * upstreams[step].narrow(0, begin[rank], begin[rank + 1] - begin[rank])).sum() / x.size(0);
    synced->weight.mutable_grad() = at::Tensor();
    synced->bias.mutable_grad() = at::Tensor();
    loss.backward();
    // The engine averages parameter gradients over the ranks.
    at::Tensor gw = synced->weight.grad().clone(), gb = synced->bias.grad().clone();
    world.comm->all_reduce(gw, zs::ReduceOp::avg)->wait();
    world.comm->all_reduce(gb, zs::ReduceOp::avg)->wait();
    grad_weight += gw;
    grad_bias += gb;
    // Rank 0 collects every rank's outputs and input gradients.
    at::Tensor all_y = at::zeros({global_batch, 4, 3, 5}), all_gx = at::zeros({global_batch, 4, 3, 5});
    all_y.narrow(0, begin[rank], x.size(0)).copy_(y.detach());
    all_gx.narrow(0, begin[rank], x.size(0)).copy_(x.grad());
    world.comm->all_reduce(all_y, zs::ReduceOp::sum)->wait();
    world.comm->all_reduce(all_gx, zs::ReduceOp::sum)->wait();
    outputs.push_back(all_y);
    grad_inputs.push_back(all_gx);
  }
  if (rank != 0) return 0;

  // The reference: one BatchNorm2d over the whole batch; objective = mean over ranks of each
  // rank's mean-over-its-slice loss.
  zs::BatchNorm2d plain = make_bn();
  double d_out = 0, d_gx = 0;
  at::Tensor ref_gw = at::zeros({4}), ref_gb = at::zeros({4});
  for (int step = 0; step < 3; ++step) {
    at::Tensor x = batches[step].clone().requires_grad_(true);
    at::Tensor y = plain->forward(x);
    at::Tensor loss = at::zeros({});
    for (int r = 0; r < size; ++r) {
      const int64_t n = begin[r + 1] - begin[r];
      loss = loss + (y.narrow(0, begin[r], n) * upstreams[step].narrow(0, begin[r], n)).sum() / n;
    }
    loss = loss / size;
    plain->weight.mutable_grad() = at::Tensor();
    plain->bias.mutable_grad() = at::Tensor();
    loss.backward();
    ref_gw += plain->weight.grad();
    ref_gb += plain->bias.grad();
    d_out = std::max(d_out, relative(outputs[step], y.detach()));
    // Each rank's input gradient is that of the sum of all ranks' losses: `size` times the objective's.
    d_gx = std::max(d_gx, relative(grad_inputs[step], x.grad() * size));
  }
  std::printf("max relative difference: output %.2e grad_input %.2e grad_weight %.2e grad_bias %.2e "
              "running_mean %.2e running_var %.2e batches_tracked %lld/%lld\n",
              d_out, d_gx, relative(grad_weight, ref_gw), relative(grad_bias, ref_gb),
              relative(synced->running_mean, plain->running_mean), relative(synced->running_var, plain->running_var),
              (long long)synced->num_batches_tracked.item<int64_t>(), (long long)plain->num_batches_tracked.item<int64_t>());
  return 0;
}
