// How an engine runs a unit's forward: the UnitHooks it installs on every unit (zero/unit.hpp).
//
//   stage 3:     gather the unit's group (or finish its prefetch) and prefetch the next units, run,
//                release the group unless it stays gathered for its backward; a hook on every
//                output that needs a gradient gathers it again before the unit's backward runs
//                (and prefetches the units whose backward follows).
//   every stage: with activation checkpointing the unit keeps no activations and is recomputed in
//                backward, with the forward's random state.
// `before`, when set, runs first (optimizer offload at stages 1-2 with overlap_step: the unit waits
// there for its parameters' update).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/zero/unit.hpp"

namespace zs {

class ParamGroup;
class UnitSchedule;

class UnitRunner : public UnitHooks {
 public:
  // `group` and `schedule`: the unit's partitioned group at stage 3, null below.
  UnitRunner(ParamGroup* group, UnitSchedule* schedule) : group_(group), schedule_(schedule) {}

  std::vector<at::Tensor> run(UnitBase& unit, const UnitBody& body, const std::vector<at::Tensor>& inputs) override;
  void set_before(std::function<void()> before) { before_ = std::move(before); }
  // The unit's module path: its forward runs inside a LibTorch user scope "zs_unit:<name>"
  // (profiler traces and the flops profiler see the unit; free when nothing observes scopes).
  void set_name(std::string name) { scope_ = "zs_unit:" + std::move(name); }
  ParamGroup* group() const { return group_; }

 private:
  void after_forward(const std::vector<at::Tensor>& outputs);

  ParamGroup* group_;
  UnitSchedule* schedule_;
  std::function<void()> before_;
  std::string scope_ = "zs_unit";
};

}  // namespace zs
