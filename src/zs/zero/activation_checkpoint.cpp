#include "zs/zero/activation_checkpoint.hpp"

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

#include "zs/config/env.hpp"
#include "zs/zero/recompute_store.hpp"

namespace zs {

namespace {

// The random-number state a device's default generator had (CPU always; the inputs' device too).
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

c10::Device device_of(const std::vector<at::Tensor>& tensors) {
  for (const at::Tensor& t : tensors)
    if (t.defined()) return t.device();
  return c10::Device(c10::kCPU);
}

bool differentiable(const at::Tensor& t) { return t.defined() && at::isFloatingType(t.scalar_type()); }

// The backward of a checkpointed call: recompute, then differentiate the recomputation.
struct CheckpointBackward : torch::autograd::Node {
  UnitBody body;
  std::vector<at::Tensor> inputs;        // detached
  std::vector<char> input_requires_grad;
  std::vector<int> output_of_grad;       // which output each incoming gradient belongs to
  RngState rng;
  const torch::nn::Module* unit = nullptr;  // whose forward body is, when known
  RecomputeStore kept;                      // what the forward kept for the recompute

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    std::vector<at::Tensor> xs(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined()) continue;
      xs[i] = inputs[i].detach();
      if (input_requires_grad[i]) xs[i].requires_grad_(true);
    }
    const RngState now = RngState::capture(device_of(xs));
    rng.restore();
    std::vector<at::Tensor> ys;
    {
      c10::AutoGradMode enable(true);
      RecomputeGuard recomputing(unit);   // BatchNorm: no second update of its running statistics;
                                          // the unit may leave its unread result out
      RecomputeStoreGuard taking(&kept, /*taking=*/true);
      ys = body(xs);
    }
    now.restore();
    // Accumulates into the parameters' .grad (and their hooks run), and into the inputs' .grad.
    std::vector<at::Tensor> roots, root_grads;
    for (size_t g = 0; g < grads.size(); ++g) {
      const at::Tensor& y = ys.at(size_t(output_of_grad[g]));
      if (grads[g].defined() && y.requires_grad()) {
        roots.push_back(y);
        root_grads.push_back(grads[g]);
      }
    }
    if (!roots.empty()) torch::autograd::backward(roots, root_grads);
    torch::autograd::variable_list out(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i)
      if (input_requires_grad[i]) out[i] = xs[i].grad();
    return out;
  }
  std::string name() const override { return "zs::CheckpointBackward"; }
};

}  // namespace

std::vector<at::Tensor> checkpointed(const UnitBody& body, const std::vector<at::Tensor>& inputs,
                                     const torch::nn::Module* unit) {
  if (!c10::GradMode::is_enabled()) return body(inputs);
  static const bool skip_unread = switch_from_env("ZS_RECOMPUTE_UNREAD");
  auto node = std::make_shared<CheckpointBackward>();
  node->body = body;
  node->unit = skip_unread ? unit : nullptr;
  for (const at::Tensor& x : inputs) {
    node->inputs.push_back(x.defined() ? x.detach() : at::Tensor());
    node->input_requires_grad.push_back(x.defined() && x.requires_grad());
  }
  node->rng = RngState::capture(device_of(inputs));
  std::vector<at::Tensor> ys;
  {
    c10::NoGradGuard no_grad;
    RecomputeStoreGuard keeping(&node->kept, /*taking=*/false);
    ys = body(inputs);
  }
  node->set_next_edges(torch::autograd::collect_next_edges(inputs));
  for (size_t k = 0; k < ys.size(); ++k) {
    if (!differentiable(ys[k])) continue;
    // An input handed back unchanged must not take this node as its history: give the output a
    // tensor of its own (same storage).
    for (const at::Tensor& x : inputs)
      if (x.defined() && ys[k].is_same(x)) ys[k] = ys[k].detach();
    node->output_of_grad.push_back(int(k));
    torch::autograd::set_history(ys[k], node);
  }
  return ys;
}

at::Tensor checkpointed(const std::function<at::Tensor(const at::Tensor&)>& fn, const at::Tensor& x) {
  return checkpointed([fn](const std::vector<at::Tensor>& in) { return std::vector<at::Tensor>{fn(in[0])}; }, {x})[0];
}

}  // namespace zs
