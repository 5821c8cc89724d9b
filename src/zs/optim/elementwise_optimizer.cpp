#include "zs/optim/elementwise_optimizer.hpp"

#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

#include <ATen/Parallel.h>
#include <ATen/ops/div.h>
#include <ATen/ops/zeros_like.h>

#include "zs/optim/optimizer_checks.hpp"

namespace zs::optim_detail {

ElementwiseOptimizer::ElementwiseOptimizer(std::string name, std::vector<std::string> state_keys,
                                           double default_weight_decay, bool pin_memory)
    : name_(std::move(name)),
      state_keys_(std::move(state_keys)),
      default_weight_decay_(default_weight_decay),
      pin_memory_(pin_memory) {}

int ElementwiseOptimizer::add_param(const at::Tensor& master, double weight_decay) {
  check_master(master, who());
  TORCH_CHECK(weight_decay >= 0, name_, ": weight_decay must be >= 0, got ", weight_decay);
  std::vector<at::Tensor> state;
  for (size_t k = 0; k < state_keys_.size(); ++k)
    state.push_back(master.device().is_cpu() ? host_zeros_like(master, pin_memory_) : at::zeros_like(master));
  masters_.push_back(master);
  states_.push_back(std::move(state));
  weight_decays_.push_back(weight_decay);
  numels_.push_back(master.numel());
  return num_slots() - 1;
}

int ElementwiseOptimizer::add_external_slot(int64_t numel, double weight_decay) {
  TORCH_CHECK(numel >= 0, name_, ": a slot of ", numel, " elements");
  TORCH_CHECK(weight_decay >= 0, name_, ": weight_decay must be >= 0, got ", weight_decay);
  masters_.emplace_back();
  states_.emplace_back();
  weight_decays_.push_back(weight_decay);
  numels_.push_back(numel);
  return num_slots() - 1;
}

void ElementwiseOptimizer::check_slot(int slot) const {
  TORCH_CHECK(slot >= 0 && slot < num_slots(), name_, ": no slot ", slot);
}

void ElementwiseOptimizer::step_slots(const std::vector<int>& slots, const std::vector<at::Tensor>& grads, double lr,
                                      const std::optional<at::Tensor>& grad_divisor) {
  check_slot_grads(masters_, slots, grads, who());
  c10::NoGradGuard no_grad;
  for (size_t k = 0; k < slots.size(); ++k) {
    const int i = slots[k];
    const at::Tensor& master = masters_[static_cast<size_t>(i)];
    // The divisor stays a device tensor: no wait for the device's norm.
    const at::Tensor grad = grads[k].view(master.sizes());
    at::Tensor g = grad_divisor ? at::div(grad, *grad_divisor) : grad.clone();
    update(i, master, states_[static_cast<size_t>(i)], std::move(g), lr);
  }
}

void ElementwiseOptimizer::step_range(int slot, int64_t begin, const at::Tensor& grad, double lr, double grad_divisor,
                                      const at::Tensor& param16) {
  check_slot(slot);
  const at::Tensor& master = masters_[static_cast<size_t>(slot)];
  TORCH_CHECK(master.defined(), name_, ": slot ", slot, " is held by the caller; use step_piece");
  const int64_t n = grad.numel();
  TORCH_CHECK(begin >= 0 && begin + n <= master.numel(), name_, ": range [", begin, ", ", begin + n,
              ") is outside slot ", slot, " (", master.numel(), " elements)");
  std::vector<at::Tensor> state;
  for (const at::Tensor& t : states_[static_cast<size_t>(slot)]) state.push_back(t.reshape({-1}).narrow(0, begin, n));
  step_piece(slot, master.reshape({-1}).narrow(0, begin, n), state, grad, lr, grad_divisor, param16);
}

void ElementwiseOptimizer::step_piece(int slot, const at::Tensor& master, const std::vector<at::Tensor>& state,
                                      const at::Tensor& grad, double lr, double grad_divisor, const at::Tensor& param16) {
  check_slot(slot);
  const int64_t n = grad.numel();
  TORCH_CHECK(master.numel() == n && n <= numels_[static_cast<size_t>(slot)], name_, ": a piece of ", master.numel(),
              " elements with a gradient of ", n, " (slot ", slot, " has ", numels_[static_cast<size_t>(slot)], ")");
  TORCH_CHECK(state.size() == state_keys_.size(), name_, ": a piece with ", state.size(), " state tensors, expected ",
              state_keys_.size());
  TORCH_CHECK(grad.device() == master.device(), name_, ": the gradient is on ", grad.device(), ", the master on ",
              master.device());
  c10::NoGradGuard no_grad;
  const at::Tensor flat_grad = grad.reshape({n});
  const auto piece = state.size() == 1 ? cpu_piece(master, state[0], flat_grad, grad_divisor) : std::nullopt;
  if (piece) {
    update_cpu(slot, *piece, lr);
  } else {
    at::Tensor g = flat_grad.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
    if (grad_divisor != 1.0) g.div_(grad_divisor);
    update(slot, master, state, std::move(g), lr);
  }
  if (param16.defined()) param16.copy_(master.reshape(param16.sizes()));
}

std::string ElementwiseOptimizer::describe() const {
  return "fused CPU " + name_ + ", " + std::to_string(at::get_num_threads()) + " thread(s)";
}

void ElementwiseOptimizer::set_steps(int64_t steps) {
  TORCH_CHECK(steps >= 0, name_, ": set_steps got ", steps);
  steps_ = steps;
}

std::map<std::string, at::Tensor> ElementwiseOptimizer::state(int slot) const {
  check_slot(slot);
  std::map<std::string, at::Tensor> named;
  const auto& state = states_[static_cast<size_t>(slot)];
  for (size_t k = 0; k < state.size(); ++k) named[state_keys_[k]] = state[k];  // none where the caller holds them
  return named;
}

}  // namespace zs::optim_detail
