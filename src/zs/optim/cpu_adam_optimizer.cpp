// Adam/AdamW over host tensors on the fused SIMD CPU kernel (cpu_adam.hpp), and
// make_host_optimizer. The kernel's math is LibTorch's fused Adam/AdamW operation by operation,
// so an offloaded run follows the device optimizer (adam.cpp) to fp32 rounding.
#include <map>
#include <string>

#include "zs/base/strings.hpp"
#include "zs/io/host_memory.hpp"
#include "zs/optim/cpu_adam.hpp"
#include "zs/optim/host_optimizer.hpp"
#include "zs/optim/optimizer_checks.hpp"

namespace zs {
namespace optim_detail {

at::Tensor host_zeros_like(const at::Tensor& like, bool pin_memory) {
  at::Tensor t = empty_host(like.numel(), at::kFloat, pin_memory).view(like.sizes());
  t.zero_();
  return t;
}

}  // namespace optim_detail

namespace {

class CpuAdamOptimizer final : public HostOptimizer {
 public:
  CpuAdamOptimizer(const OptimizerConfig& config, bool decoupled, bool pin_memory, int threads)
      : decoupled_(decoupled),
        pin_memory_(pin_memory),
        beta1_(config.beta1),
        beta2_(config.beta2),
        eps_(config.eps),
        default_weight_decay_(config.weight_decay),
        threads_(threads),
        isa_(cpu_adam_isa()) {}

  using Optimizer::add_param;

  int add_param(const at::Tensor& master, double weight_decay) override {
    optim_detail::check_master(master, who());
    TORCH_CHECK(master.device().is_cpu(), who(), ": offloaded master weights must be in host memory, got ",
                master.device());
    TORCH_CHECK(weight_decay >= 0, who(), ": weight_decay must be >= 0, got ", weight_decay);
    masters_.push_back(master);
    exp_avgs_.push_back(optim_detail::host_zeros_like(master, pin_memory_));
    exp_avg_sqs_.push_back(optim_detail::host_zeros_like(master, pin_memory_));
    weight_decays_.push_back(weight_decay);
    numels_.push_back(master.numel());
    return static_cast<int>(masters_.size()) - 1;
  }

  int add_external_slot(int64_t numel, double weight_decay) override {
    TORCH_CHECK(numel >= 0, who(), ": a slot of ", numel, " elements");
    TORCH_CHECK(weight_decay >= 0, who(), ": weight_decay must be >= 0, got ", weight_decay);
    masters_.emplace_back();  // the caller keeps master and state
    exp_avgs_.emplace_back();
    exp_avg_sqs_.emplace_back();
    weight_decays_.push_back(weight_decay);
    numels_.push_back(numel);
    return static_cast<int>(masters_.size()) - 1;
  }

  std::vector<std::string> state_keys() const override { return {"exp_avg", "exp_avg_sq"}; }

  double default_weight_decay() const override { return default_weight_decay_; }
  int num_slots() const override { return static_cast<int>(masters_.size()); }

  void begin_step() override { ++steps_; }

  void step_range(int slot, int64_t begin, const at::Tensor& grad, double lr, double grad_divisor,
                  const at::Tensor& param16) override {
    TORCH_CHECK(slot >= 0 && slot < num_slots(), who(), ": no slot ", slot);
    TORCH_CHECK(masters_[slot].defined(), who(), ": slot ", slot, " is held by the caller; use step_piece");
    const at::Tensor& master = masters_[slot];
    const int64_t n = grad.numel();
    TORCH_CHECK(begin >= 0 && begin + n <= master.numel(), who(), ": range [", begin, ", ", begin + n,
                ") is outside slot ", slot, " (", master.numel(), " elements)");
    step_piece(slot, master.narrow(0, begin, n), {exp_avgs_[slot].narrow(0, begin, n), exp_avg_sqs_[slot].narrow(0, begin, n)},
               grad, lr, grad_divisor, param16);
  }

  void step_piece(int slot, const at::Tensor& master, const std::vector<at::Tensor>& state, const at::Tensor& grad,
                  double lr, double grad_divisor, const at::Tensor& param16) override {
    TORCH_CHECK(slot >= 0 && slot < num_slots(), who(), ": no slot ", slot);
    TORCH_CHECK(steps_ >= 1, who(), ": step before begin_step");
    TORCH_CHECK(state.size() == 2, who(), ": step_piece wants exp_avg and exp_avg_sq, got ", state.size(), " state tensor(s)");
    const int64_t n = grad.numel();
    TORCH_CHECK(master.numel() == n && n <= numels_[slot], who(), ": a piece of ", master.numel(),
                " elements with a gradient of ", n, " (slot ", slot, " has ", numels_[slot], ")");
    AdamHyper hyper;
    hyper.lr = lr;
    hyper.beta1 = beta1_;
    hyper.beta2 = beta2_;
    hyper.eps = eps_;
    hyper.weight_decay = weight_decays_[slot];
    hyper.decoupled = decoupled_;
    std::optional<at::Tensor> out;
    if (param16.defined()) out = param16;
    cpu_adam_step(master, grad.reshape({n}), state[0], state[1], out, hyper, steps_, grad_divisor, threads_);
  }

  void step_slots(const std::vector<int>& slot_list, const std::vector<at::Tensor>& grads, double lr,
                  const std::optional<at::Tensor>& grad_divisor) override {
    optim_detail::check_slot_grads(masters_, slot_list, grads, who());
    const double divisor = grad_divisor ? grad_divisor->item<double>() : 1.0;
    for (size_t k = 0; k < slot_list.size(); ++k) step_range(slot_list[k], 0, grads[k], lr, divisor, at::Tensor());
  }

  void set_momentum(double momentum) override { beta1_ = momentum; }
  bool has_betas() const override { return true; }
  void set_betas(double beta1, double beta2) override {
    beta1_ = beta1;
    beta2_ = beta2;
  }

  int64_t steps() const override { return steps_; }
  void set_steps(int64_t steps) override {
    TORCH_CHECK(steps >= 0, who(), ": set_steps got ", steps);
    steps_ = steps;
  }

  std::map<std::string, at::Tensor> state(int slot) const override {
    TORCH_CHECK(slot >= 0 && slot < num_slots(), who(), ": no slot ", slot);
    if (!exp_avgs_[slot].defined()) return {};  // held by the caller (add_external_slot)
    return {{"exp_avg", exp_avgs_[slot]}, {"exp_avg_sq", exp_avg_sqs_[slot]}};
  }

  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }

  std::string describe() const override {
    return std::string("fused CPU ") + name() + ", " + cpu_isa_name(isa_) + ", " + std::to_string(threads_) +
           " thread(s)";
  }

 private:
  const char* who() const { return decoupled_ ? "CPU AdamW" : "CPU Adam"; }

  bool decoupled_, pin_memory_;
  double beta1_, beta2_, eps_, default_weight_decay_;
  int threads_;
  CpuIsa isa_;
  std::vector<at::Tensor> masters_, exp_avgs_, exp_avg_sqs_;
  std::vector<double> weight_decays_;
  std::vector<int64_t> numels_;
  int64_t steps_ = 0;
};

}  // namespace

namespace optim_detail {
std::unique_ptr<HostOptimizer> make_host_adam(const OptimizerConfig& config, bool decoupled, bool pin_memory,
                                              int threads) {
  return std::make_unique<CpuAdamOptimizer>(config, decoupled, pin_memory, threads);
}
}  // namespace optim_detail

std::unique_ptr<HostOptimizer> make_host_optimizer(const OptimizerConfig& config, bool pin_memory,
                                                   double cpu_adam_core_share) {
  // make_optimizer owns the validation of the section (type and hyper-parameters): the same
  // errors whether or not the state is offloaded.
  make_optimizer(config);
  const std::string type = ascii_lowercase(config.type);
  if (runs_on_cpu_adam(config)) {
    const bool decoupled = type == "adamw" || config.adam_w_mode;
    return optim_detail::make_host_adam(config, decoupled, pin_memory, default_cpu_threads(cpu_adam_core_share));
  }
  TORCH_CHECK(cpu_adam_core_share == 1.0, "make_host_optimizer: the host ", config.type, " step takes no core share");
  if (type == "lion") return optim_detail::make_lion(config, pin_memory);
  if (type == "adagrad") return optim_detail::make_adagrad(config, pin_memory);
  return optim_detail::make_host_sgd(config, pin_memory);
}

bool runs_on_cpu_adam(const OptimizerConfig& config) {
  const std::string type = ascii_lowercase(config.type);
  return type == "adam" || type == "adamw";
}

}  // namespace zs
