// Optimizers over flat fp32 tensors: the ZeRO layer hands each rank's shard of the master weights
// (one flat tensor per parameter group) and the matching fp32 gradient shard.
//
// Adam/AdamW/SGD/Adagrad follow torch.optim's (and DeepSpeed's) update rules exactly, so a run can
// be checked against LibTorch's own optimizers; Lion follows DeepSpeed's FusedLion. State lives
// next to the master weights (same device).
#pragma once

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/config/config.hpp"

namespace zs {

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Registers a flat fp32 tensor the optimizer updates in place, with its group's weight decay.
  // Returns its slot index (0, 1, ...). State tensors are created here, zero-filled, same device.
  // The tensor must be contiguous fp32; the slot's weight decay replaces the config's for that slot.
  virtual int add_param(const at::Tensor& master, double weight_decay) = 0;
  // Same, with the config's weight_decay.
  int add_param(const at::Tensor& master) { return add_param(master, default_weight_decay()); }
  virtual double default_weight_decay() const = 0;
  virtual int num_slots() const = 0;

  // One update of every slot: grads[i] is slot i's fp32 gradient (same shape). The gradients are
  // divided by `grad_divisor` first (loss scale and clipping folded together; 1.0 for none).
  // When grad_divisor != 1 the division happens in place: grads[i] holds the divided gradient
  // afterwards. With grad_divisor == 1 the gradients are only read.
  void step(const std::vector<at::Tensor>& grads, double lr, double grad_divisor);

  // step() in pieces, for callers that make fp32 gradients a few slots at a time to bound scratch
  // memory: begin_step() once, then step_slots() over disjoint sets of slots that together cover
  // every slot; grads[k] belongs to slots[k]. `grad_divisor`, when given, is a one-element fp32
  // tensor on the parameters' device, so a divisor computed on the device (clipping) needs no
  // round trip to the host.
  virtual void begin_step() = 0;
  virtual void step_slots(const std::vector<int>& slots, const std::vector<at::Tensor>& grads, double lr,
                          const std::optional<at::Tensor>& grad_divisor) = 0;

  // 16-bit training with the masters on a GPU, in one pass over memory per slot: step_slots that
  // takes the gradients as they are (contiguous bf16, fp16 or fp32, only read) and also writes each
  // updated master, rounded, into params[k] (contiguous bf16 or fp16 of the slot's size; undefined:
  // not written). The same bits as step_slots over the gradients converted to fp32 followed by
  // params[k].copy_(master). Only where has_fused_16bit_step() (Adam/AdamW in GPU builds, masters
  // on a GPU); elsewhere it throws std::logic_error.
  virtual bool has_fused_16bit_step() const { return false; }
  virtual void step_slots_16bit(const std::vector<int>& slots, const std::vector<at::Tensor>& grads,
                                const std::vector<at::Tensor>& params, double lr,
                                const std::optional<at::Tensor>& grad_divisor);

  // Momentum-like hyper-parameter: Adam's and Lion's beta1, SGD's momentum (Adagrad has none and throws).
  virtual void set_momentum(double momentum) = 0;
  // Adam-family optimizers and Lion have (beta1, beta2); SGD and Adagrad have none and throw
  // std::logic_error from set_betas. A momentum-cycling schedule sets both (see apply_scheduled_momentum).
  virtual bool has_betas() const = 0;
  virtual void set_betas(double beta1, double beta2) = 0;

  // Number of steps so far (Adam's bias-correction step).
  virtual int64_t steps() const = 0;

  // Named state of a slot ("exp_avg", "exp_avg_sq", "momentum_buffer", "sum"), for checkpoints.
  virtual std::map<std::string, at::Tensor> state(int slot) const = 0;
  virtual void set_steps(int64_t steps) = 0;

  virtual std::string name() const = 0;
};

// Builds the optimizer the config names (Adam, AdamW, SGD, Lion, Adagrad; any letter case). Throws ConfigError
// for another name or out-of-range hyper-parameters.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config);

// The concrete optimizers (make_optimizer picks one). Adam with decoupled_weight_decay is AdamW:
// the parameter shrinks by lr * weight_decay; without it weight_decay * param joins the gradient.
std::unique_ptr<Optimizer> make_adam(const OptimizerConfig& config, bool decoupled_weight_decay);
std::unique_ptr<Optimizer> make_sgd(const OptimizerConfig& config);

}  // namespace zs
