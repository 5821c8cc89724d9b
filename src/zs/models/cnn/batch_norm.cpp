#include "zs/models/cnn/batch_norm.hpp"

#include <algorithm>

#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/rsqrt.h>
#include <c10/core/GradMode.h>
#include <torch/nn/functional/batchnorm.h>

#include "zs/zero/unit.hpp"

namespace zs {

at::Tensor BatchNorm2dImpl::forward(const at::Tensor& input) {
  if (rank_sum_ && is_training()) return synchronized_forward(input);
  if (is_training() && recomputing_forward()) {
    // Activation checkpointing's second forward: the same batch statistics, no second update.
    return torch::nn::functional::detail::batch_norm(input, at::Tensor(), at::Tensor(), weight, bias, /*training=*/true,
                                                     /*momentum=*/0.0, options.eps());
  }
  return torch::nn::BatchNorm2dImpl::forward(input);
}

at::Tensor BatchNorm2dImpl::synchronized_forward(const at::Tensor& input) {
  _check_input_dim(input);
  const int64_t channels = input.size(1);
  const std::vector<int64_t> reduce = {0, 2, 3};
  // Statistics in float32 whatever the input's precision; one collective per layer carries every
  // rank's count, sum and sum of squares per channel.
  const at::Tensor x = input.to(at::kFloat);
  const at::Tensor count = at::full({1}, double(input.numel() / channels), x.options());
  const at::Tensor local = at::cat({x.sum(reduce), (x * x).sum(reduce), count});
  const at::Tensor global = rank_sum_(local);
  const at::Tensor n = global.narrow(0, 2 * channels, 1);
  const at::Tensor mean = global.narrow(0, 0, channels) / n;
  const at::Tensor var = (global.narrow(0, channels, channels) / n - mean * mean).clamp_min(0);

  if (options.track_running_stats() && !recomputing_forward()) {
    c10::NoGradGuard no_grad;
    double factor = options.momentum().value_or(0.0);
    if (num_batches_tracked.defined()) {
      num_batches_tracked += 1;
      if (!options.momentum().has_value()) factor = 1.0 / num_batches_tracked.item<double>();
    }
    const double total = n.item<double>();
    const at::Tensor unbiased = var.detach() * (total / std::max(total - 1.0, 1.0));
    running_mean.mul_(1 - factor).add_(mean.detach().to(running_mean.scalar_type()), factor);
    running_var.mul_(1 - factor).add_(unbiased.to(running_var.scalar_type()), factor);
  }

  const auto per_channel = [&](const at::Tensor& t) { return t.view({1, channels, 1, 1}); };
  at::Tensor scale = at::rsqrt(var + options.eps());
  at::Tensor shift = -mean * scale;
  if (options.affine()) {
    scale = scale * weight.to(at::kFloat);
    shift = shift * weight.to(at::kFloat) + bias.to(at::kFloat);
  }
  return (x * per_channel(scale) + per_channel(shift)).to(input.scalar_type());
}

int convert_sync_batchnorm(torch::nn::Module& module, const RankSum& sum) {
  int count = 0;
  for (const auto& m : module.modules(/*include_self=*/true)) {
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(m.get())) {
      bn->set_rank_sum(sum);
      ++count;
    }
  }
  return count;
}

}  // namespace zs
