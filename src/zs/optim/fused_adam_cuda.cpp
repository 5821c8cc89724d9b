// fused_adam_step, for one slot or a batch: checks the tensors and launches the kernels of
// fused_adam_kernels.cu on the current stream of the masters' GPU.
#include "zs/optim/fused_adam_cuda.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

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

// The checks every slot passes; returns the kernel's view of it.
kernels::AdamSlot checked_slot(const at::Tensor& master, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq,
                               const at::Tensor& grad, const at::Tensor& param) {
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
  return {master.data_ptr<float>(), exp_avg.data_ptr<float>(), exp_avg_sq.data_ptr<float>(), grad.const_data_ptr(),
          param.defined() ? param.data_ptr() : nullptr, master.numel()};
}

void check_decay(const FusedAdamHyper& hyper, double weight_decay) {
  require(hyper.decoupled || weight_decay == 0.0,
          "Adam with L2 weight decay is not fused (its rounding differs from LibTorch's kernel): use LibTorch's");
}

// The step count and the divisor, which every slot of a call shares.
void check_step(const at::Tensor& master, const at::Tensor& step, const std::optional<at::Tensor>& divisor) {
  require(step.defined() && step.scalar_type() == at::kFloat && step.numel() == 1 && step.device() == master.device(),
          "the step count must be a one-element fp32 tensor on the master's device");
  if (divisor) {
    require(divisor->scalar_type() == at::kFloat && divisor->numel() == 1 && divisor->device() == master.device(),
            "the gradient divisor must be a one-element fp32 tensor on the master's device");
  }
}

kernels::AdamHyper kernel_hyper(const FusedAdamHyper& hyper) {
  return {float(hyper.lr), float(hyper.beta1), float(hyper.beta2), float(hyper.eps), float(hyper.weight_decay),
          hyper.decoupled};
}

// Without a parameter to write, the parameter's kind only picks an instantiation.
kernels::FloatKind param_kind_of(const at::Tensor& param) {
  return param.defined() ? kernels::float_kind(param.scalar_type()) : kernels::FloatKind::bf16;
}

}  // namespace

void fused_adam_step(const at::Tensor& master, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq,
                     const at::Tensor& grad, const at::Tensor& param, const at::Tensor& step,
                     const FusedAdamHyper& hyper, const std::optional<at::Tensor>& divisor) {
  const kernels::AdamSlot slot = checked_slot(master, exp_avg, exp_avg_sq, grad, param);
  check_decay(hyper, hyper.weight_decay);
  check_step(master, step, divisor);
  c10::cuda::CUDAGuard guard(master.device());
  kernels::launch_fused_adam(slot, kernels::float_kind(grad.scalar_type()), param_kind_of(param), kernel_hyper(hyper),
                             step.const_data_ptr<float>(), divisor ? divisor->const_data_ptr<float>() : nullptr,
                             c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("fused Adam kernel");
}

void fused_adam_step(const std::vector<FusedAdamSlot>& slots, const at::Tensor& step, const FusedAdamHyper& hyper,
                     const std::optional<at::Tensor>& divisor) {
  if (slots.empty()) return;
  const FusedAdamSlot& first = slots.front();
  // A launch covers slots of one gradient dtype and one parameter dtype (its instantiation); a
  // stage-3 model can mix them (units reduced in fp32, persistent parameters' gradients in bf16),
  // so the slots go in one batch per pair. A slot that writes no parameter counts as bf16.
  struct Batch {
    at::ScalarType grad_type;
    kernels::FloatKind param_kind;
    std::vector<kernels::AdamSlot> slots;
    std::vector<float> weight_decays;
  };
  std::vector<Batch> batches;
  for (const FusedAdamSlot& s : slots) {
    const kernels::AdamSlot slot = checked_slot(s.master, s.exp_avg, s.exp_avg_sq, s.grad, s.param);
    check_decay(hyper, s.weight_decay);
    require(s.master.device() == first.master.device(), "the slots of one call must share a GPU");
    const auto grad_type = s.grad.scalar_type();
    const auto param_kind = param_kind_of(s.param);
    auto it = std::find_if(batches.begin(), batches.end(),
                           [&](const Batch& b) { return b.grad_type == grad_type && b.param_kind == param_kind; });
    if (it == batches.end()) it = batches.insert(batches.end(), Batch{grad_type, param_kind, {}, {}});
    it->slots.push_back(slot);
    it->weight_decays.push_back(float(s.weight_decay));
  }
  check_step(first.master, step, divisor);
  c10::cuda::CUDAGuard guard(first.master.device());
  for (const Batch& b : batches) {
    kernels::launch_fused_adam_batch(b.slots.data(), b.weight_decays.data(), int(b.slots.size()),
                                     kernels::float_kind(b.grad_type), b.param_kind, kernel_hyper(hyper),
                                     step.const_data_ptr<float>(), divisor ? divisor->const_data_ptr<float>() : nullptr,
                                     c10::cuda::getCurrentCUDAStream().stream());
    kernels::check_launch("fused Adam kernel");
  }
}

}  // namespace zs
