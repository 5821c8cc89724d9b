// Adagrad: torch.optim.Adagrad's rule (DeepSpeed runs it on the GPU, and DeepSpeedCPUAdagrad with
// offload). Per element, at step t, with L2 weight decay wd:
//
//   clr = lr / (1 + (t - 1) * lr_decay);   g += wd * p;   s += g * g;   p -= clr * g / (sqrt(s) + eps)
//
// One state tensor, "sum" (s). Each product is its own operation, so the rounding is the same
// however the elements are cut into pieces.
#include <ATen/ops/sqrt.h>

#include "zs/optim/elementwise_optimizer.hpp"

namespace zs {
namespace {

class Adagrad final : public optim_detail::ElementwiseOptimizer {
 public:
  Adagrad(const OptimizerConfig& config, bool pin_memory)
      : ElementwiseOptimizer("Adagrad", {"sum"}, config.weight_decay, pin_memory),
        eps_(config.eps),
        lr_decay_(config.lr_decay) {}

  // No momentum: OneCycle's momentum cycle leaves it alone (it cycles betas only).
  void set_momentum(double) override { throw std::logic_error("Adagrad has no momentum"); }
  bool has_betas() const override { return false; }
  void set_betas(double, double) override { throw std::logic_error("Adagrad has no betas"); }

 private:
  void update(int slot, const at::Tensor& master, const std::vector<at::Tensor>& state, at::Tensor g,
              double lr) override {
    const at::Tensor& sum = state[0];
    const double wd = weight_decay(slot);
    if (wd != 0.0) g.add_(master.mul(wd));
    sum.add_(g.mul(g));
    const at::Tensor denominator = at::sqrt(sum).add_(eps_);
    master.sub_(g.div_(denominator).mul_(decayed_lr(lr)));
  }

  void update_cpu(int slot, const optim_detail::CpuPiece& piece, double lr) override {
    optim_detail::adagrad_cpu(piece, {decayed_lr(lr), weight_decay(slot), eps_});
  }

  // lr / (1 + (t - 1) * lr_decay) at step t, as LibTorch's Adagrad.
  double decayed_lr(double lr) const { return lr / (1.0 + double(steps() - 1) * lr_decay_); }

  double eps_, lr_decay_;
};

}  // namespace

namespace optim_detail {
std::unique_ptr<HostOptimizer> make_adagrad(const OptimizerConfig& config, bool pin_memory) {
  return std::make_unique<Adagrad>(config, pin_memory);
}
}  // namespace optim_detail

}  // namespace zs
