// Units for ZeRO stage 3: the modules whose parameters are gathered together before their
// forward (and backward) and released after.
//
// A model marks a unit type by deriving it from UnitModule and naming its forward unit_forward:
//
//   class BlockImpl : public zs::UnitModule {           // was: public torch::nn::Module
//     at::Tensor unit_forward(const at::Tensor& x) override;   // was: forward
//   };
//
// Callers keep calling block->forward(x). Without an engine forward() is just unit_forward(); an
// engine installs hooks that run it its way: at stage 3 gathering the unit's parameters before
// and releasing them after (and again around the unit's backward), and, at any stage, with
// activation checkpointing when the unit asks for it (set_activation_checkpointing). Header-only:
// a model that marks its units does not depend on the engine.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace zs {

class UnitModule;

// How an engine runs a unit's forward (installed by the engine).
class UnitHooks {
 public:
  virtual ~UnitHooks() = default;
  virtual at::Tensor run(UnitModule& unit, const at::Tensor& x) = 0;
};

class UnitModule : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;

  at::Tensor forward(const at::Tensor& x) { return hooks_ ? hooks_->run(*this, x) : unit_forward(x); }
  // The unit's own computation, bypassing the hooks (for the hooks themselves).
  at::Tensor forward_unhooked(const at::Tensor& x) { return unit_forward(x); }

  void set_unit_hooks(UnitHooks* hooks) { hooks_ = hooks; }
  UnitHooks* unit_hooks() const { return hooks_; }

  // Keep no activations of this unit; recompute them in backward (takes effect under an engine).
  void set_activation_checkpointing(bool on) { checkpoint_activations_ = on; }
  bool activation_checkpointing() const { return checkpoint_activations_; }

 protected:
  virtual at::Tensor unit_forward(const at::Tensor& x) = 0;

 private:
  UnitHooks* hooks_ = nullptr;
  bool checkpoint_activations_ = false;
};

}  // namespace zs
