#include "zs/zero/grad_ready_hook.hpp"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

namespace zs {

namespace {
struct GradReadyHook : torch::autograd::PostAccumulateGradHook {
  explicit GradReadyHook(std::function<void()> f) : on_ready(std::move(f)) {}
  void operator()(const torch::autograd::Variable&) override { on_ready(); }
  std::function<void()> on_ready;
};
}  // namespace

void set_grad_ready_hook(const at::Tensor& param, std::function<void()> on_ready) {
  torch::autograd::impl::set_post_acc_grad_hooks(param, std::make_unique<GradReadyHook>(std::move(on_ready)));
}

void clear_grad_ready_hook(const at::Tensor& param) { torch::autograd::impl::set_post_acc_grad_hooks(param, nullptr); }

}  // namespace zs
