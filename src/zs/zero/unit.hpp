// Units for ZeRO stage 3: the modules whose parameters are gathered together before their
// forward (and backward) and released after.
//
// A model marks a unit type by deriving it from UnitModule and naming its forward unit_forward:
//
//   class BlockImpl : public zs::UnitModule {           // was: public torch::nn::Module
//     at::Tensor unit_forward(const at::Tensor& x) override;   // was: forward
//   };
//
// Callers keep calling block->forward(x). Without an engine (or below stage 3) forward() is just
// unit_forward(); under stage 3 the engine installs hooks that gather the unit's parameters,
// release them after the forward, and gather them again before the unit's backward. Header-only:
// a model that marks its units does not depend on the engine.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace zs {

// What stage 3 does around a unit's forward (installed by the engine).
class UnitHooks {
 public:
  virtual ~UnitHooks() = default;
  virtual void before_forward() = 0;
  // Gets the unit's output and returns it (with the backward re-gather arranged on it).
  virtual at::Tensor after_forward(const at::Tensor& output) = 0;
};

class UnitModule : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;

  at::Tensor forward(const at::Tensor& x) {
    if (!hooks_) return unit_forward(x);
    hooks_->before_forward();
    return hooks_->after_forward(unit_forward(x));
  }

  void set_unit_hooks(UnitHooks* hooks) { hooks_ = hooks; }
  UnitHooks* unit_hooks() const { return hooks_; }

 protected:
  virtual at::Tensor unit_forward(const at::Tensor& x) = 0;

 private:
  UnitHooks* hooks_ = nullptr;
};

}  // namespace zs
