// Adam and AdamW over flat fp32 tensors, on LibTorch's fused kernels (CPU and CUDA).
//
// The update is torch.optim.Adam/AdamW's: m = b1*m + (1-b1)*g, v = b2*v + (1-b2)*g*g,
// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). Adam (L2) adds wd*p to g first; AdamW
// scales p by (1 - lr*wd) first. The fused kernels divide g by `grad_scale` (one fp32 value) as
// they load it, which is the same fp32 division a separate grad.div_(divisor) pass would do.
// In GPU builds, 16-bit training with the masters on the GPU takes step_slots_16bit: one kernel per
// slot (fused_adam_cuda.hpp) with the same arithmetic, which also reads the 16-bit gradient and
// writes the 16-bit parameter.
#include <algorithm>
#include <map>
#include <optional>

#include <ATen/ops/_fused_adam.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

#include "zs/optim/optimizer.hpp"
#include "zs/optim/optimizer_checks.hpp"
#ifdef ZS_WITH_CUDA
#include "zs/optim/fused_adam_cuda.hpp"
#endif

namespace zs {
namespace {

class Adam final : public Optimizer {
 public:
  Adam(const OptimizerConfig& config, bool decoupled)
      : decoupled_(decoupled),
        beta1_(config.beta1),
        beta2_(config.beta2),
        eps_(config.eps),
        default_weight_decay_(config.weight_decay) {}

  using Optimizer::add_param;

  int add_param(const at::Tensor& master, double weight_decay) override {
    optim_detail::check_master(master, who());
    TORCH_CHECK(masters_.empty() || master.device() == masters_[0].device(), who(),
                ": all parameters must be on one device (", masters_[0].device(), "), got ",
                master.device());
    TORCH_CHECK(weight_decay >= 0, who(), ": weight_decay must be >= 0, got ", weight_decay);
    if (!step_tensor_.defined()) {
      // One step counter shared by all slots (they always step together); the fused kernels
      // read it on the parameters' device, so no host round trip.
      step_tensor_ = at::full({}, static_cast<double>(steps_), master.options());
    }
    masters_.push_back(master);
    exp_avgs_.push_back(at::zeros_like(master));
    exp_avg_sqs_.push_back(at::zeros_like(master));
    weight_decays_.push_back(weight_decay);
    return static_cast<int>(masters_.size()) - 1;
  }

  double default_weight_decay() const override { return default_weight_decay_; }
  int num_slots() const override { return static_cast<int>(masters_.size()); }

  void begin_step() override {
    if (step_tensor_.defined()) step_tensor_.add_(1);
    ++steps_;
  }

  void step_slots(const std::vector<int>& slot_list, const std::vector<at::Tensor>& grads, double lr,
                  const std::optional<at::Tensor>& grad_scale) override {
    optim_detail::check_slot_grads(masters_, slot_list, grads, who());
    if (slot_list.empty()) return;

    // The fused kernels take one weight decay per call: one call per distinct value.
    std::map<double, std::vector<size_t>> by_decay;
    for (size_t k = 0; k < slot_list.size(); ++k) by_decay[weight_decays_[slot_list[k]]].push_back(k);

    for (const auto& [weight_decay, ks] : by_decay) {
      std::vector<at::Tensor> params, gs, ms, vs, steps;
      for (size_t k : ks) {
        const int i = slot_list[k];
        params.push_back(masters_[i]);
        gs.push_back(grads[k].view(masters_[i].sizes()));
        ms.push_back(exp_avgs_[i]);
        vs.push_back(exp_avg_sqs_[i]);
        steps.push_back(step_tensor_);
      }
      if (decoupled_) {
        at::_fused_adamw_(params, gs, ms, vs, /*max_exp_avg_sqs=*/{}, steps, lr, beta1_, beta2_,
                          weight_decay, eps_, /*amsgrad=*/false, /*maximize=*/false, grad_scale);
      } else {
        at::_fused_adam_(params, gs, ms, vs, /*max_exp_avg_sqs=*/{}, steps, lr, beta1_, beta2_,
                         weight_decay, eps_, /*amsgrad=*/false, /*maximize=*/false, grad_scale);
      }
    }
  }

#ifdef ZS_WITH_CUDA
  // Not for Adam with L2 decay (decay folded into the gradient): there the kernel's rounding was
  // measured to differ from LibTorch's by an ulp on the GPU, so that case keeps LibTorch's kernel.
  bool has_fused_16bit_step() const override {
    if (masters_.empty() || !masters_[0].is_cuda()) return false;
    return decoupled_ || std::all_of(weight_decays_.begin(), weight_decays_.end(), [](double wd) { return wd == 0.0; });
  }

  void step_slots_16bit(const std::vector<int>& slot_list, const std::vector<at::Tensor>& grads,
                        const std::vector<at::Tensor>& params, double lr,
                        const std::optional<at::Tensor>& grad_scale) override {
    TORCH_CHECK(has_fused_16bit_step(), who(), ": the fused 16-bit step needs the masters on a GPU");
    TORCH_CHECK(grads.size() == slot_list.size() && params.size() == slot_list.size(), who(), ": got ",
                grads.size(), " gradients and ", params.size(), " parameters for ", slot_list.size(), " slots");
    // One batch for all the slots: a few launches where one a slot left the GPU between them idle.
    std::vector<FusedAdamSlot> batch;
    for (size_t k = 0; k < slot_list.size(); ++k) {
      const int i = slot_list[k];
      TORCH_CHECK(i >= 0 && i < static_cast<int>(masters_.size()), who(), ": no slot ", i);
      batch.push_back({masters_[i], exp_avgs_[i], exp_avg_sqs_[i], grads[k], params[k], weight_decays_[i]});
    }
    fused_adam_step(batch, step_tensor_, {lr, beta1_, beta2_, eps_, 0.0, decoupled_}, grad_scale);
  }
#endif

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
    if (step_tensor_.defined()) step_tensor_.fill_(static_cast<double>(steps));
  }

  std::map<std::string, at::Tensor> state(int slot) const override {
    TORCH_CHECK(slot >= 0 && slot < static_cast<int>(masters_.size()), who(), ": no slot ", slot);
    return {{"exp_avg", exp_avgs_[slot]}, {"exp_avg_sq", exp_avg_sqs_[slot]}};
  }

  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }

 private:
  const char* who() const { return decoupled_ ? "AdamW" : "Adam"; }

  bool decoupled_;
  double beta1_, beta2_, eps_, default_weight_decay_;
  std::vector<at::Tensor> masters_, exp_avgs_, exp_avg_sqs_;
  std::vector<double> weight_decays_;
  at::Tensor step_tensor_;  // fp32 scalar on the parameters' device
  int64_t steps_ = 0;
};

}  // namespace

std::unique_ptr<Optimizer> make_adam(const OptimizerConfig& config, bool decoupled_weight_decay) {
  return std::make_unique<Adam>(config, decoupled_weight_decay);
}

}  // namespace zs
