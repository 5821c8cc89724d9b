// make_optimizer: validates the optimizer section and builds Adam, AdamW, SGD, Lion or Adagrad.
#include "zs/optim/optimizer.hpp"

#include <ATen/ops/full.h>

#include <sstream>
#include <stdexcept>

#include "zs/base/strings.hpp"
#include "zs/optim/host_optimizer.hpp"
#include "zs/optim/optimizer_checks.hpp"

namespace zs {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw ConfigError("optimizer.params: " + message);
}

void validate(const OptimizerConfig& c, const std::string& type) {
  require(c.lr >= 0, "lr must be >= 0, got " + std::to_string(c.lr));
  require(c.weight_decay >= 0, "weight_decay must be >= 0, got " + std::to_string(c.weight_decay));
  if (type == "sgd") {
    require(c.momentum >= 0, "momentum must be >= 0, got " + std::to_string(c.momentum));
    require(!c.nesterov || (c.momentum > 0 && c.dampening == 0),
            "nesterov needs momentum > 0 and dampening = 0 (got momentum " +
                std::to_string(c.momentum) + ", dampening " + std::to_string(c.dampening) + ")");
  } else if (type == "adagrad") {
    require(c.eps >= 0, "eps must be >= 0, got " + std::to_string(c.eps));
    require(c.lr_decay >= 0, "lr_decay must be >= 0, got " + std::to_string(c.lr_decay));
  } else {
    require(c.beta1 >= 0 && c.beta1 < 1, "betas[0] must be in [0, 1), got " + std::to_string(c.beta1));
    require(c.beta2 >= 0 && c.beta2 < 1, "betas[1] must be in [0, 1), got " + std::to_string(c.beta2));
    require(c.eps >= 0, "eps must be >= 0, got " + std::to_string(c.eps));
  }
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config) {
  const std::string type = ascii_lowercase(config.type);
  if (type != "adam" && type != "adamw" && type != "sgd" && type != "lion" && type != "adagrad") {
    throw ConfigError("optimizer.type: '" + config.type +
                      "' is not supported; use one of Adam, AdamW, SGD, Lion, Adagrad");
  }
  validate(config, type);
  if (type == "sgd") return make_sgd(config);
  if (type == "lion") return optim_detail::make_lion(config, /*pin_memory=*/false);
  if (type == "adagrad") return optim_detail::make_adagrad(config, /*pin_memory=*/false);
  // "Adam" follows adam_w_mode (decoupled decay unless it is false); "AdamW" always decouples.
  const bool decoupled = type == "adamw" || config.adam_w_mode;
  return make_adam(config, decoupled);
}

namespace optim_detail {

void check_master(const at::Tensor& master, const char* who) {
  TORCH_CHECK(master.defined(), who, ": add_param got an undefined tensor");
  TORCH_CHECK(master.scalar_type() == at::kFloat, who,
              ": master weights must be fp32, got ", master.scalar_type());
  TORCH_CHECK(master.is_contiguous(), who, ": master weights must be contiguous");
}

void check_slot_grads(const std::vector<at::Tensor>& masters, const std::vector<int>& slots,
                      const std::vector<at::Tensor>& grads, const char* who) {
  TORCH_CHECK(grads.size() == slots.size(), who, ": got ", grads.size(), " gradients for ", slots.size(), " slots");
  for (size_t k = 0; k < grads.size(); ++k) {
    const int i = slots[k];
    TORCH_CHECK(i >= 0 && i < static_cast<int>(masters.size()), who, ": no slot ", i);
    const at::Tensor& g = grads[k];
    TORCH_CHECK(g.defined(), who, ": gradient ", i, " is undefined");
    TORCH_CHECK(g.numel() == masters[i].numel(), who, ": gradient ", i, " has ", g.numel(),
                " elements, its parameter ", masters[i].numel());
    TORCH_CHECK(g.scalar_type() == at::kFloat, who, ": gradient ", i, " must be fp32, got ",
                g.scalar_type());
    TORCH_CHECK(g.device() == masters[i].device(), who, ": gradient ", i, " is on ", g.device(),
                ", its parameter on ", masters[i].device());
    TORCH_CHECK(g.is_contiguous(), who, ": gradient ", i, " must be contiguous");
  }
}

void check_grads(const std::vector<at::Tensor>& masters, const std::vector<at::Tensor>& grads,
                 const char* who) {
  TORCH_CHECK(grads.size() == masters.size(), who, ": step got ", grads.size(),
              " gradients for ", masters.size(), " registered parameters");
  std::vector<int> all(masters.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  check_slot_grads(masters, all, grads, who);
}

}  // namespace optim_detail

void Optimizer::step(const std::vector<at::Tensor>& grads, double lr, double grad_divisor) {
  TORCH_CHECK(static_cast<int>(grads.size()) == num_slots(), name(), ": step got ", grads.size(),
              " gradients for ", num_slots(), " registered parameters");
  std::vector<int> all(grads.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  TORCH_CHECK(grad_divisor > 0, name(), ": grad_divisor must be > 0, got ", grad_divisor);
  std::optional<at::Tensor> divisor;
  if (grad_divisor != 1.0 && !grads.empty()) divisor = at::full({}, grad_divisor, grads[0].options());
  begin_step();
  step_slots(all, grads, lr, divisor);
}

void Optimizer::step_slots_16bit(const std::vector<int>&, const std::vector<at::Tensor>&,
                                 const std::vector<at::Tensor>&, double, const std::optional<at::Tensor>&) {
  throw std::logic_error(name() + " has no fused 16-bit step (has_fused_16bit_step() is false)");
}

}  // namespace zs
