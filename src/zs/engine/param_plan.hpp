// Which trainable parameters go where: the gathered (persistent) set laid out in flat buckets,
// and, at stage 3, the parameters of each unit of the model (zero/unit.hpp).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "zs/zero/param_group.hpp"
#include "zs/zero/unit.hpp"

namespace zs {

struct UnitParams {
  std::string name;               // the module's path, e.g. "transformer.h.3"
  UnitBase* unit = nullptr;
  std::vector<NamedParam> params; // in layout order
  std::vector<int> groups;        // 0: decays, 1: no weight decay
};

// The elements of these parameters together.
inline int64_t numel_of(const std::vector<NamedParam>& params) {
  int64_t n = 0;
  for (const NamedParam& p : params) n += p.tensor.numel();
  return n;
}

struct ParamPlan {
  std::vector<NamedParam> persistent;  // in layout order
  std::vector<int> persistent_groups;
  std::vector<UnitParams> units;       // stage 3 only
  int64_t total_numel = 0;
};

// Trainable parameters, each once (tied weights appear under two names), grouped into the
// decaying group 0 and the non-decaying group 1, each group in reverse registration order (the
// order backward produces gradients in, so buckets fill one after another). With `partition`,
// parameters of units (zs::find_units) go to their unit, except those under
// `persistence_threshold` elements, which stay gathered. Throws std::invalid_argument for nested
// units or a parameter shared between a unit and anything else.
ParamPlan plan_parameters(torch::nn::Module& model, const std::function<bool(const std::string&, const at::Tensor&)>& decay,
                          bool partition, int64_t persistence_threshold);

}  // namespace zs
