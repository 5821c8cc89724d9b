// Lion (sign momentum): DeepSpeed's FusedLion on the GPU and DeepSpeedCPULion with offload, with
// their rule. Per element, with decoupled weight decay wd:
//
//   p -= lr * wd * p;   c = beta1 * m + (1 - beta1) * g;   p -= lr * sign(c);   m = beta2 * m + (1 - beta2) * g
//
// One state tensor, "exp_avg" (m). Each product is its own operation, so the rounding is the same
// however the elements are cut into pieces.
#include <ATen/ops/sign.h>

#include "zs/optim/elementwise_optimizer.hpp"

namespace zs {
namespace {

class Lion final : public optim_detail::ElementwiseOptimizer {
 public:
  Lion(const OptimizerConfig& config, bool pin_memory)
      : ElementwiseOptimizer("Lion", {"exp_avg"}, config.weight_decay, pin_memory),
        beta1_(config.beta1),
        beta2_(config.beta2) {}

  void set_momentum(double momentum) override { beta1_ = momentum; }
  bool has_betas() const override { return true; }
  void set_betas(double beta1, double beta2) override {
    beta1_ = beta1;
    beta2_ = beta2;
  }

 private:
  void update(int slot, const at::Tensor& master, const std::vector<at::Tensor>& state, at::Tensor g,
              double lr) override {
    const at::Tensor& exp_avg = state[0];
    const double wd = weight_decay(slot);
    if (wd != 0.0) master.mul_(1.0 - lr * wd);
    const at::Tensor direction = exp_avg.mul(beta1_).add_(g.mul(1.0 - beta1_)).sign_();
    master.add_(direction, -lr);
    exp_avg.mul_(beta2_).add_(g.mul_(1.0 - beta2_));
  }

  void update_cpu(int slot, const optim_detail::CpuPiece& piece, double lr) override {
    optim_detail::lion_cpu(piece, {lr, weight_decay(slot), beta1_, beta2_});
  }

  double beta1_, beta2_;
};

}  // namespace

namespace optim_detail {
std::unique_ptr<HostOptimizer> make_lion(const OptimizerConfig& config, bool pin_memory) {
  return std::make_unique<Lion>(config, pin_memory);
}
}  // namespace optim_detail

}  // namespace zs
