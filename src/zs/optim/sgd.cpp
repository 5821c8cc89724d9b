// SGD with momentum, dampening, Nesterov and L2 weight decay, on LibTorch's fused kernel.
//
// torch.optim.SGD's rule: g += wd*p; with momentum, buf = g on the first step, afterwards
// buf = momentum*buf + (1-dampening)*g; g = nesterov ? g + momentum*buf : buf; p -= lr*g.
#include <algorithm>
#include <map>
#include <stdexcept>
#include <tuple>

#include <ATen/ops/_fused_sgd.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros_like.h>

#include "zs/optim/optimizer.hpp"
#include "zs/optim/optimizer_checks.hpp"

namespace zs {
namespace {

class Sgd final : public Optimizer {
 public:
  explicit Sgd(const OptimizerConfig& config)
      : momentum_(config.momentum),
        dampening_(config.dampening),
        nesterov_(config.nesterov),
        default_weight_decay_(config.weight_decay) {}

  using Optimizer::add_param;

  int add_param(const at::Tensor& master, double weight_decay) override {
    optim_detail::check_master(master, "SGD");
    TORCH_CHECK(weight_decay >= 0, "SGD: weight_decay must be >= 0, got ", weight_decay);
    masters_.push_back(master);
    // Plain SGD (momentum 0) keeps no state; with momentum the buffer exists from the start.
    momentum_buffers_.push_back(momentum_ != 0.0 ? at::zeros_like(master) : at::Tensor());
    buffer_started_.push_back(false);
    weight_decays_.push_back(weight_decay);
    return static_cast<int>(masters_.size()) - 1;
  }

  double default_weight_decay() const override { return default_weight_decay_; }
  int num_slots() const override { return static_cast<int>(masters_.size()); }

  void begin_step() override {
    TORCH_CHECK(!nesterov_ || (momentum_ > 0 && dampening_ == 0),
                "SGD: nesterov needs momentum > 0 and dampening = 0, momentum is ", momentum_);
    ++steps_;
  }

  void step_slots(const std::vector<int>& slot_list, const std::vector<at::Tensor>& grads, double lr,
                  const std::optional<at::Tensor>& grad_scale) override {
    optim_detail::check_slot_grads(masters_, slot_list, grads, "SGD");
    if (slot_list.empty()) return;

    const bool use_momentum = momentum_ != 0.0;
    // One fused call per (weight decay, first momentum step) pair: both are per-call arguments.
    std::map<std::tuple<double, bool>, std::vector<size_t>> groups;
    for (size_t k = 0; k < slot_list.size(); ++k) {
      const int i = slot_list[k];
      // Momentum switched on after add_param (a schedule set it): create the missing buffer.
      if (use_momentum && !momentum_buffers_[i].defined()) momentum_buffers_[i] = at::zeros_like(masters_[i]);
      const bool first = use_momentum && !buffer_started_[i];
      groups[{weight_decays_[i], first}].push_back(k);
    }
    for (const auto& [key, ks] : groups) {
      const auto [weight_decay, first] = key;
      std::vector<at::Tensor> params, gs, bufs;
      for (size_t k : ks) {
        const int i = slot_list[k];
        params.push_back(masters_[i]);
        gs.push_back(grads[k].view(masters_[i].sizes()));
        if (use_momentum) bufs.push_back(momentum_buffers_[i]);
      }
      at::_fused_sgd_(params, gs, bufs, weight_decay, momentum_, lr, dampening_, nesterov_,
                      /*maximize=*/false, /*is_first_step=*/first, grad_scale);
    }
    if (use_momentum)
      for (int i : slot_list) buffer_started_[i] = true;
  }

  void set_momentum(double momentum) override {
    TORCH_CHECK(momentum >= 0, "SGD: momentum must be >= 0, got ", momentum);
    momentum_ = momentum;
  }
  bool has_betas() const override { return false; }
  void set_betas(double, double) override {
    throw std::logic_error("SGD has no betas; use set_momentum");
  }

  int64_t steps() const override { return steps_; }
  void set_steps(int64_t steps) override {
    TORCH_CHECK(steps >= 0, "SGD: set_steps got ", steps);
    steps_ = steps;
    // A restored run continues its momentum buffers instead of restarting them from the gradient.
    const bool started = steps > 0 && momentum_ != 0.0;
    std::fill(buffer_started_.begin(), buffer_started_.end(), started);
  }

  std::map<std::string, at::Tensor> state(int slot) const override {
    TORCH_CHECK(slot >= 0 && slot < static_cast<int>(masters_.size()), "SGD: no slot ", slot);
    if (!momentum_buffers_[slot].defined()) return {};
    return {{"momentum_buffer", momentum_buffers_[slot]}};
  }

  std::string name() const override { return "SGD"; }

 private:
  double momentum_, dampening_;
  bool nesterov_;
  double default_weight_decay_;
  std::vector<at::Tensor> masters_, momentum_buffers_;
  std::vector<bool> buffer_started_;
  std::vector<double> weight_decays_;
  int64_t steps_ = 0;
};

}  // namespace

std::unique_ptr<Optimizer> make_sgd(const OptimizerConfig& config) {
  return std::make_unique<Sgd>(config);
}

}  // namespace zs
