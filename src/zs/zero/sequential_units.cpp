#include "zs/zero/sequential_units.hpp"

namespace zs {

namespace {
bool has_trainable_parameters(const torch::nn::Module& m) {
  for (const auto& p : m.parameters(/*recurse=*/true))
    if (p.requires_grad()) return true;
  return false;
}

std::string join(const std::string& prefix, const std::string& name) { return prefix.empty() ? name : prefix + "." + name; }
}  // namespace

at::Tensor SequentialUnitImpl::forward(const at::Tensor& x) {
  UnitHooks* hooks = unit_hooks();
  if (!hooks) return child_.forward(x);
  std::function<at::Tensor(const std::vector<at::Tensor>&)> call = [this](const std::vector<at::Tensor>& xs) {
    return child_.forward(xs.at(0));
  };
  return unit_detail::run_hooked<at::Tensor>(*this, *hooks, {x}, call);
}

int make_units(torch::nn::SequentialImpl& sequential) {
  int made = 0;
  for (auto it = sequential.begin(); it != sequential.end(); ++it) {
    const std::shared_ptr<torch::nn::Module> child = it->ptr();
    if (dynamic_cast<UnitBase*>(child.get()) || !has_trainable_parameters(*child)) continue;
    *it = torch::nn::AnyModule(std::make_shared<SequentialUnitImpl>(std::move(*it)));
    ++made;
  }
  return made;
}

std::vector<FoundUnit> find_units(torch::nn::Module& model) {
  std::vector<FoundUnit> found;
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
    if (auto* unit = dynamic_cast<UnitBase*>(item.value().get())) found.push_back({item.key(), unit});
    auto* sequential = dynamic_cast<torch::nn::SequentialImpl*>(item.value().get());
    if (!sequential) continue;
    const auto children = sequential->named_children();
    size_t i = 0;
    for (auto it = sequential->begin(); it != sequential->end(); ++it, ++i) {
      auto* wrapper = dynamic_cast<SequentialUnitImpl*>(it->ptr().get());
      if (wrapper && i < children.size()) found.push_back({join(item.key(), children[i].key()), wrapper});
    }
  }
  return found;
}

}  // namespace zs
