// SGD over host tensors for offloaded optimizer state, on LibTorch's fused CPU kernel: the
// update rule of sgd.cpp (momentum, dampening, Nesterov, L2 weight decay), applied piece by piece.
#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

#include <ATen/ops/_fused_sgd.h>
#include <ATen/ops/full.h>

#include "zs/optim/host_optimizer.hpp"
#include "zs/optim/optimizer_checks.hpp"

namespace zs {
namespace {

class HostSgd final : public HostOptimizer {
 public:
  HostSgd(const OptimizerConfig& config, bool pin_memory)
      : pin_memory_(pin_memory),
        momentum_(config.momentum),
        dampening_(config.dampening),
        nesterov_(config.nesterov),
        default_weight_decay_(config.weight_decay) {}

  using Optimizer::add_param;

  int add_param(const at::Tensor& master, double weight_decay) override {
    optim_detail::check_master(master, "CPU SGD");
    TORCH_CHECK(master.device().is_cpu(), "CPU SGD: offloaded master weights must be in host memory, got ",
                master.device());
    TORCH_CHECK(weight_decay >= 0, "CPU SGD: weight_decay must be >= 0, got ", weight_decay);
    masters_.push_back(master);
    momentum_buffers_.push_back(momentum_ != 0.0 ? optim_detail::host_zeros_like(master, pin_memory_) : at::Tensor());
    buffer_started_.push_back(false);
    first_step_.push_back(false);
    weight_decays_.push_back(weight_decay);
    numels_.push_back(master.numel());
    return static_cast<int>(masters_.size()) - 1;
  }

  int add_external_slot(int64_t numel, double weight_decay) override {
    TORCH_CHECK(numel >= 0, "CPU SGD: a slot of ", numel, " elements");
    TORCH_CHECK(weight_decay >= 0, "CPU SGD: weight_decay must be >= 0, got ", weight_decay);
    masters_.emplace_back();  // the caller keeps master and momentum buffer
    momentum_buffers_.emplace_back();
    buffer_started_.push_back(false);
    first_step_.push_back(false);
    weight_decays_.push_back(weight_decay);
    numels_.push_back(numel);
    return static_cast<int>(masters_.size()) - 1;
  }

  // The caller's files get a momentum buffer when momentum is on at the start.
  std::vector<std::string> state_keys() const override {
    if (momentum_ != 0.0) return {"momentum_buffer"};
    return {};
  }

  double default_weight_decay() const override { return default_weight_decay_; }
  int num_slots() const override { return static_cast<int>(masters_.size()); }

  void begin_step() override {
    TORCH_CHECK(!nesterov_ || (momentum_ > 0 && dampening_ == 0),
                "SGD: nesterov needs momentum > 0 and dampening = 0, momentum is ", momentum_);
    ++steps_;
    // Whether a slot's momentum buffer starts from the gradient is decided once per step, since
    // the slot is then updated in several pieces.
    const bool use_momentum = momentum_ != 0.0;
    for (size_t i = 0; i < masters_.size(); ++i) {
      if (use_momentum && !momentum_buffers_[i].defined() && masters_[i].defined())
        momentum_buffers_[i] = optim_detail::host_zeros_like(masters_[i], pin_memory_);
      first_step_[i] = use_momentum && !buffer_started_[i];
      if (use_momentum) buffer_started_[i] = true;
    }
  }

  void step_range(int slot, int64_t begin, const at::Tensor& grad, double lr, double grad_divisor,
                  const at::Tensor& param16) override {
    TORCH_CHECK(slot >= 0 && slot < num_slots(), "CPU SGD: no slot ", slot);
    TORCH_CHECK(masters_[slot].defined(), "CPU SGD: slot ", slot, " is held by the caller; use step_piece");
    const int64_t n = grad.numel();
    TORCH_CHECK(begin >= 0 && begin + n <= masters_[slot].numel(), "CPU SGD: range [", begin, ", ", begin + n,
                ") is outside slot ", slot, " (", masters_[slot].numel(), " elements)");
    std::vector<at::Tensor> state;
    if (momentum_ != 0.0) state.push_back(momentum_buffers_[slot].narrow(0, begin, n));
    step_piece(slot, masters_[slot].narrow(0, begin, n), state, grad, lr, grad_divisor, param16);
  }

  void step_piece(int slot, const at::Tensor& param, const std::vector<at::Tensor>& state, const at::Tensor& grad,
                  double lr, double grad_divisor, const at::Tensor& param16) override {
    TORCH_CHECK(slot >= 0 && slot < num_slots(), "CPU SGD: no slot ", slot);
    const int64_t n = grad.numel();
    TORCH_CHECK(param.numel() == n && n <= numels_[slot], "CPU SGD: a piece of ", param.numel(),
                " elements with a gradient of ", n, " (slot ", slot, " has ", numels_[slot], ")");
    TORCH_CHECK(grad.device().is_cpu(), "CPU SGD: the gradient must be in host memory, got ", grad.device());
    TORCH_CHECK(momentum_ == 0.0 || !state.empty(), "CPU SGD: momentum is ", momentum_, " but the optimizer state kept in offload files has no ",
                "momentum buffer (momentum was 0 when training started); start with momentum > 0");
    // The fused kernel wants fp32 gradients (and divides them in place): 16-bit ones get a copy.
    at::Tensor g = grad.reshape({n});
    if (g.scalar_type() != at::kFloat) g = g.to(at::kFloat);
    std::vector<at::Tensor> bufs;
    if (momentum_ != 0.0) bufs.push_back(state[0]);
    std::optional<at::Tensor> scale;
    if (grad_divisor != 1.0) scale = at::full({}, grad_divisor, param.options());
    at::_fused_sgd_({param}, {g}, bufs, weight_decays_[slot], momentum_, lr, dampening_, nesterov_,
                    /*maximize=*/false, /*is_first_step=*/first_step_[slot], scale);
    if (param16.defined()) param16.copy_(param);
  }

  void step_slots(const std::vector<int>& slot_list, const std::vector<at::Tensor>& grads, double lr,
                  const std::optional<at::Tensor>& grad_divisor) override {
    optim_detail::check_slot_grads(masters_, slot_list, grads, "CPU SGD");
    const double divisor = grad_divisor ? grad_divisor->item<double>() : 1.0;
    for (size_t k = 0; k < slot_list.size(); ++k) step_range(slot_list[k], 0, grads[k], lr, divisor, at::Tensor());
  }

  void set_momentum(double momentum) override {
    TORCH_CHECK(momentum >= 0, "SGD: momentum must be >= 0, got ", momentum);
    momentum_ = momentum;
  }
  bool has_betas() const override { return false; }
  void set_betas(double, double) override { throw std::logic_error("SGD has no betas; use set_momentum"); }

  int64_t steps() const override { return steps_; }
  void set_steps(int64_t steps) override {
    TORCH_CHECK(steps >= 0, "SGD: set_steps got ", steps);
    steps_ = steps;
    // A restored run continues its momentum buffers instead of restarting them from the gradient.
    const bool started = steps > 0 && momentum_ != 0.0;
    std::fill(buffer_started_.begin(), buffer_started_.end(), started);
  }

  std::map<std::string, at::Tensor> state(int slot) const override {
    TORCH_CHECK(slot >= 0 && slot < num_slots(), "CPU SGD: no slot ", slot);
    if (!momentum_buffers_[slot].defined()) return {};  // none yet, or held by the caller
    return {{"momentum_buffer", momentum_buffers_[slot]}};
  }

  std::string name() const override { return "SGD"; }
  std::string describe() const override { return "LibTorch fused CPU SGD"; }

 private:
  bool pin_memory_;
  double momentum_, dampening_;
  bool nesterov_;
  double default_weight_decay_;
  std::vector<at::Tensor> masters_, momentum_buffers_;
  std::vector<bool> buffer_started_, first_step_;
  std::vector<double> weight_decays_;
  std::vector<int64_t> numels_;
  int64_t steps_ = 0;
};

}  // namespace

namespace optim_detail {
std::unique_ptr<HostOptimizer> make_host_sgd(const OptimizerConfig& config, bool pin_memory) {
  return std::make_unique<HostSgd>(config, pin_memory);
}
}  // namespace optim_detail

}  // namespace zs
