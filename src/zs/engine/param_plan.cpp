#include "zs/engine/param_plan.hpp"

#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "zs/zero/sequential_units.hpp"

namespace zs {

namespace {

// Appends `params` to (out, groups): decaying ones first, then the others, each reversed.
void add_grouped(const std::vector<NamedParam>& params, const std::function<bool(const std::string&, const at::Tensor&)>& decay,
                 std::vector<NamedParam>& out, std::vector<int>& groups) {
  for (int g = 0; g < 2; ++g) {
    for (auto it = params.rbegin(); it != params.rend(); ++it) {
      const bool decays = !decay || decay(it->name, it->tensor);
      if ((decays ? 0 : 1) != g) continue;
      out.push_back(*it);
      groups.push_back(g);
    }
  }
}

}  // namespace

ParamPlan plan_parameters(torch::nn::Module& model, const std::function<bool(const std::string&, const at::Tensor&)>& decay,
                          bool partition, int64_t persistence_threshold) {
  ParamPlan plan;
  // Which unit (if any) owns each parameter, by the parameter's TensorImpl.
  std::unordered_map<const void*, size_t> unit_of;
  std::vector<std::vector<NamedParam>> unit_params;
  if (partition) {
    for (const FoundUnit& found : find_units(model)) {
      for (const auto& other : plan.units)
        if (found.name.rfind(other.name + ".", 0) == 0 || other.name.empty())
          throw std::invalid_argument("unit " + found.name + " is nested in unit " +
                                      (other.name.empty() ? "<the model itself>" : other.name) +
                                      "; ZeRO-3 units must not contain each other");
      UnitParams u;
      u.name = found.name;
      u.unit = found.unit;
      plan.units.push_back(std::move(u));
      unit_params.emplace_back();
      const std::string prefix = found.name.empty() ? "" : found.name + ".";
      for (const auto& p : found.unit->unit_module().named_parameters(/*recurse=*/true)) {
        if (!p.value().requires_grad() || p.value().numel() < persistence_threshold) continue;
        if (!unit_of.emplace(p.value().unsafeGetTensorImpl(), plan.units.size() - 1).second)
          throw std::invalid_argument("parameter " + prefix + p.key() + " is shared by two units");
        unit_params.back().push_back({prefix + p.key(), p.value()});
      }
    }
  }
  std::vector<NamedParam> persistent;
  std::unordered_set<const void*> seen;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const at::Tensor& t = item.value();
    if (!t.requires_grad()) continue;
    auto owner = unit_of.find(t.unsafeGetTensorImpl());
    if (owner != unit_of.end() && !plan.units[owner->second].name.empty() &&
        item.key().rfind(plan.units[owner->second].name + ".", 0) != 0)
      throw std::invalid_argument("parameter " + item.key() + " is also used inside unit " + plan.units[owner->second].name +
                                  "; a ZeRO-3 unit's parameters must belong to it alone");
    if (!seen.insert(t.unsafeGetTensorImpl()).second) continue;
    plan.total_numel += t.numel();
    if (!unit_of.count(t.unsafeGetTensorImpl())) persistent.push_back({item.key(), t});
  }
  add_grouped(persistent, decay, plan.persistent, plan.persistent_groups);
  for (size_t u = 0; u < plan.units.size(); ++u)
    add_grouped(unit_params[u], decay, plan.units[u].params, plan.units[u].groups);
  // A unit whose parameters all stayed gathered (below the threshold) has nothing to shard.
  std::vector<UnitParams> kept;
  for (auto& u : plan.units)
    if (!u.params.empty()) kept.push_back(std::move(u));
  plan.units = std::move(kept);
  if (plan.total_numel == 0) throw std::invalid_argument("the model has no trainable parameters");
  return plan;
}

}  // namespace zs
