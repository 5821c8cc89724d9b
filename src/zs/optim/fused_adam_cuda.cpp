// fused_adam_step: checks the tensors and launches the kernel of fused_adam_kernels.cu on the
// current stream of the masters' GPU.
#include "zs/optim/fused_adam_cuda.hpp"

#include <stdexcept>
#include <string>

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "zs/kernels/check_launch.hpp"
#include "zs/optim/fused_adam_kernels.hpp"

namespace zs {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("fused Adam step: " + message);
}

void require_fp32_like(const at::Tensor& t, const at::Tensor& master, const char* what) {
  require(t.defined() && t.scalar_type() == at::kFloat && t.is_contiguous() && t.device() == master.device() &&
              t.numel() == master.numel(),
          std::string(what) + " must be a contiguous fp32 tensor of the master's size on its device");
}

}  // namespace

void fused_adam_step(const at::Tensor& master, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq,
                     const at::Tensor& grad, const at::Tensor& param, const at::Tensor& step,
                     const FusedAdamHyper& hyper, const std::optional<at::Tensor>& divisor) {
  require(master.defined() && master.is_cuda(), "the master must be a CUDA tensor");
  require_fp32_like(master, master, "the master");
  require_fp32_like(exp_avg, master, "exp_avg");
  require_fp32_like(exp_avg_sq, master, "exp_avg_sq");
  const auto grad_type = grad.defined() ? grad.scalar_type() : at::kFloat;
  require(grad.defined() && grad.is_contiguous() && grad.device() == master.device() && grad.numel() == master.numel() &&
              (grad_type == at::kFloat || grad_type == at::kBFloat16 || grad_type == at::kHalf),
          "the gradient must be a contiguous fp32, bf16 or fp16 tensor of the master's size on its device");
  if (param.defined()) {
    require(param.is_contiguous() && param.device() == master.device() && param.numel() == master.numel() &&
                (param.scalar_type() == at::kBFloat16 || param.scalar_type() == at::kHalf),
            "the parameter must be a contiguous bf16 or fp16 tensor of the master's size on its device");
  }
  require(hyper.decoupled || hyper.weight_decay == 0.0,
          "Adam with L2 weight decay is not fused (its rounding differs from LibTorch's kernel): use LibTorch's");
  require(step.defined() && step.scalar_type() == at::kFloat && step.numel() == 1 && step.device() == master.device(),
          "the step count must be a one-element fp32 tensor on the master's device");
  if (divisor) {
    require(divisor->scalar_type() == at::kFloat && divisor->numel() == 1 && divisor->device() == master.device(),
            "the gradient divisor must be a one-element fp32 tensor on the master's device");
  }

  const kernels::AdamSlot slot{master.data_ptr<float>(), exp_avg.data_ptr<float>(), exp_avg_sq.data_ptr<float>(),
                               grad.const_data_ptr(), param.defined() ? param.data_ptr() : nullptr, master.numel()};
  const kernels::AdamHyper h{float(hyper.lr), float(hyper.beta1), float(hyper.beta2), float(hyper.eps),
                             float(hyper.weight_decay), hyper.decoupled};
  // Without a parameter to write, the parameter's kind only picks an instantiation.
  const auto param_kind = param.defined() ? kernels::float_kind(param.scalar_type()) : kernels::FloatKind::bf16;
  c10::cuda::CUDAGuard guard(master.device());
  kernels::launch_fused_adam(slot, kernels::float_kind(grad_type), param_kind, h, step.const_data_ptr<float>(),
                             divisor ? divisor->const_data_ptr<float>() : nullptr,
                             c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("fused Adam kernel");
}

}  // namespace zs
