#include "zs/zero/activation_checkpoint.hpp"

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

namespace zs {

namespace {

// The random-number state a device's default generator had (CPU always; the input's device too).
struct RngState {
  std::vector<std::pair<c10::Device, at::Tensor>> states;

  static RngState capture(const c10::Device& device) {
    RngState r;
    for (c10::Device d : {c10::Device(c10::kCPU), device}) {
      if (!r.states.empty() && d == r.states.front().first) continue;
      at::Generator gen = at::globalContext().defaultGenerator(d);  // a handle to the shared generator
      std::lock_guard<std::mutex> lock(gen.mutex());
      r.states.emplace_back(d, gen.get_state());
    }
    return r;
  }
  void restore() const {
    for (const auto& [d, state] : states) {
      at::Generator gen = at::globalContext().defaultGenerator(d);  // a handle to the shared generator
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(state);
    }
  }
};

// The backward of a checkpointed call: recompute, then differentiate the recomputation.
struct CheckpointBackward : torch::autograd::Node {
  UnitFunction fn;
  at::Tensor input;             // detached
  bool input_requires_grad = false;
  RngState rng;

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    at::Tensor x = input.detach();
    x.requires_grad_(input_requires_grad);
    const RngState now = RngState::capture(x.device());
    rng.restore();
    at::Tensor y;
    {
      c10::AutoGradMode enable(true);
      y = fn(x);
    }
    now.restore();
    // Accumulates into the parameters' .grad (and their hooks run), and into x.grad.
    if (y.requires_grad()) torch::autograd::backward({y}, {grads[0]});
    return {input_requires_grad ? x.grad() : at::Tensor()};
  }
  std::string name() const override { return "zs::CheckpointBackward"; }
};

}  // namespace

at::Tensor checkpointed(const UnitFunction& fn, const at::Tensor& x) {
  if (!c10::GradMode::is_enabled()) return fn(x);
  auto node = std::make_shared<CheckpointBackward>();
  node->fn = fn;
  node->input = x.detach();
  node->input_requires_grad = x.requires_grad();
  node->rng = RngState::capture(x.device());
  at::Tensor y;
  {
    c10::NoGradGuard no_grad;
    y = fn(x);
  }
  node->set_next_edges(torch::autograd::collect_next_edges(x));
  torch::autograd::set_history(y, node);
  return y;
}

at::Tensor CheckpointingHooks::run(UnitModule& unit, const at::Tensor& x) {
  if (before_) before_(unit);
  if (!unit.activation_checkpointing()) return unit.forward_unhooked(x);
  return checkpointed([&unit](const at::Tensor& in) { return unit.forward_unhooked(in); }, x);
}

}  // namespace zs
