// Activation checkpointing: run a function without keeping its activations, and recompute them
// during backward. The recomputation sees the random-number state of the original forward, so
// dropout masks match and the gradients equal those of the plain run.
#pragma once

#include <functional>

#include <ATen/core/Tensor.h>

#include "zs/zero/unit.hpp"

namespace zs {

using UnitFunction = std::function<at::Tensor(const at::Tensor&)>;

// fn(x) without autograd history inside; its output's backward re-runs fn with autograd on and
// differentiates that (parameters used by fn receive their gradients then). With autograd off
// this is just fn(x).
at::Tensor checkpointed(const UnitFunction& fn, const at::Tensor& x);

// Hooks for stages 0-2: a unit that asks for activation checkpointing gets it, others run plainly.
// `before`, when set, runs first (the optimizer waits there for an offloaded step still updating
// the unit's parameters).
class CheckpointingHooks : public UnitHooks {
 public:
  at::Tensor run(UnitModule& unit, const at::Tensor& x) override;
  void set_before(std::function<void(UnitModule&)> before) { before_ = std::move(before); }

 private:
  std::function<void(UnitModule&)> before_;
};

}  // namespace zs
