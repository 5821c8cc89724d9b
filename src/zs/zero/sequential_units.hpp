// Children of a torch::nn::Sequential made units in place, without a class of their own:
//
//   torch::nn::Sequential mlp(torch::nn::Linear(64, 256), torch::nn::ReLU(), torch::nn::Linear(256, 64));
//   zs::make_units(mlp);        // each child with parameters is now gathered on its own at stage 3
//
// The Sequential keeps calling its children in order; each child with trainable parameters is
// called through a SequentialUnit that runs it under the engine's unit hooks. Parameter names and
// the module tree are unchanged (the wrapper is not registered as a module), but mlp[i] and
// mlp->ptr(i) now return the wrapper: use named_children() to reach the child itself. Children of
// a Sequential take and return one tensor (as Sequential passes them along), and so do these units.
// The engine does this by itself at stage 3 for a model without units (engine/auto_units.hpp).
#pragma once

#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>

#include "zs/zero/unit.hpp"

namespace zs {

class SequentialUnitImpl : public torch::nn::Module, public UnitBase {
 public:
  explicit SequentialUnitImpl(torch::nn::AnyModule child) : child_(std::move(child)) {}
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Module& unit_module() override { return *child_.ptr(); }

 private:
  torch::nn::AnyModule child_;
};

// Makes every child of `sequential` that has trainable parameters a unit (children that already
// are units stay as they are). Returns how many it made.
int make_units(torch::nn::SequentialImpl& sequential);
inline int make_units(torch::nn::Sequential& sequential) { return make_units(*sequential); }

// A unit of a model: its module path (as in named_parameters) and what the engine drives.
struct FoundUnit {
  std::string name;
  UnitBase* unit = nullptr;
};
// Every unit in `model`: modules marked zs::Unit<...> and wrapped Sequential children, in module
// order (a unit inside another is listed too; the engine refuses nesting).
std::vector<FoundUnit> find_units(torch::nn::Module& model);

}  // namespace zs
