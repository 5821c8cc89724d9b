// A callback that runs right after autograd has accumulated a parameter's gradient into .grad
// (LibTorch's post-accumulate-grad hook). One per parameter; setting another replaces it.
#pragma once

#include <functional>

#include <ATen/core/Tensor.h>

namespace zs {

void set_grad_ready_hook(const at::Tensor& param, std::function<void()> on_ready);
void clear_grad_ready_hook(const at::Tensor& param);

}  // namespace zs
