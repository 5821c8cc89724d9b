// token_cross_entropy on GPUs: per-row losses and log-sum-exps from the logits as they are (one
// kernel), their mean over the counted rows (ATen), and the logits' gradient in their own dtype
// (one kernel). GPU builds only.
#include "zs/models/cross_entropy_cuda.hpp"

#include <stdexcept>
#include <string>

#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/ne.h>
#include <ATen/ops/sum.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/autograd/custom_function.h>

#include "zs/config/env.hpp"
#include "zs/models/cross_entropy_kernels.hpp"
#include "zs/kernels/check_launch.hpp"

namespace zs {
namespace {

bool fused_cross_entropy_enabled() {
  static const bool on = switch_from_env("ZS_FUSED_CROSS_ENTROPY");
  return on;
}

struct FusedCrossEntropy : torch::autograd::Function<FusedCrossEntropy> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets,
                            int64_t ignore_index) {
    const int64_t rows = logits.size(0), vocab = logits.size(1);
    const auto f32 = logits.options().dtype(at::kFloat);
    at::Tensor losses = at::empty({rows}, f32), lse = at::empty({rows}, f32);
    c10::cuda::CUDAGuard guard(logits.device());
    kernels::launch_cross_entropy_forward(logits.const_data_ptr(), targets.const_data_ptr<int64_t>(), rows, vocab,
                                          ignore_index, kernels::float_kind(logits.scalar_type()),
                                          losses.data_ptr<float>(), lse.data_ptr<float>(),
                                          c10::cuda::getCurrentCUDAStream().stream());
    kernels::check_launch("cross-entropy forward kernel");
    const at::Tensor count = at::ne(targets, ignore_index).sum().to(at::kFloat);
    ctx->save_for_backward({logits, targets, lse, count});
    ctx->saved_data["ignore_index"] = ignore_index;
    return losses.sum() / count;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& logits = saved[0];
    const at::Tensor& targets = saved[1];
    const at::Tensor& lse = saved[2];
    const at::Tensor& count = saved[3];
    const int64_t ignore_index = ctx->saved_data["ignore_index"].toInt();
    const at::Tensor grad = grads[0].to(at::kFloat).contiguous();
    at::Tensor dlogits = at::empty_like(logits, logits.options().memory_format(c10::MemoryFormat::Contiguous));
    c10::cuda::CUDAGuard guard(logits.device());
    kernels::launch_cross_entropy_backward(logits.const_data_ptr(), targets.const_data_ptr<int64_t>(),
                                           lse.const_data_ptr<float>(), grad.const_data_ptr<float>(),
                                           count.const_data_ptr<float>(), logits.size(0), logits.size(1), ignore_index,
                                           kernels::float_kind(logits.scalar_type()), dlogits.data_ptr(),
                                           c10::cuda::getCurrentCUDAStream().stream());
    kernels::check_launch("cross-entropy backward kernel");
    return {dlogits, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool fused_cross_entropy_applies(const at::Tensor& logits, const at::Tensor& targets) {
  if (!fused_cross_entropy_enabled() || !logits.is_cuda() || logits.dim() != 2) return false;
  const auto dtype = logits.scalar_type();
  const bool float_dtype = dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf;
  return float_dtype && at::GradMode::is_enabled() && logits.requires_grad() && logits.is_contiguous() &&
         targets.dim() == 1 && targets.size(0) == logits.size(0) && targets.scalar_type() == at::kLong &&
         targets.is_contiguous() && targets.device() == logits.device() && logits.size(0) < (int64_t(1) << 31);
}

at::Tensor cross_entropy_fused(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index) {
  return FusedCrossEntropy::apply(logits, targets, ignore_index);
}

}  // namespace zs
