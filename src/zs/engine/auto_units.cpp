#include "zs/engine/auto_units.hpp"

#include <map>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>

#include "zs/config/config.hpp"
#include "zs/zero/sequential_units.hpp"

namespace zs {

namespace {

int64_t trainable_numel(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters(/*recurse=*/true))
    if (p.requires_grad()) n += p.numel();
  return n;
}

// Parameters of the children that have any: what units made of them would cover.
int64_t coverage(const torch::nn::SequentialImpl& s, int* children) {
  int64_t n = 0;
  *children = 0;
  for (const auto& child : s.children()) {
    const int64_t c = trainable_numel(*child);
    if (c > 0) ++*children;
    n += c;
  }
  return n;
}

// "transformer.h (12 x zs::BlockImpl)" for every ModuleList and Sequential with children.
std::string containers(torch::nn::Module& model) {
  std::string out;
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    const torch::nn::Module& m = *item.value();
    if (!dynamic_cast<const torch::nn::ModuleListImpl*>(&m) && !dynamic_cast<const torch::nn::SequentialImpl*>(&m)) continue;
    std::map<std::string, int> types;
    for (const auto& child : m.children()) ++types[child->name()];
    if (types.empty()) continue;
    out += "\n  " + (item.key().empty() ? std::string("<model>") : item.key()) + " (" + m.name() + ":";
    for (const auto& [type, count] : types) out += " " + std::to_string(count) + " x " + type;
    out += ")";
  }
  return out;
}

}  // namespace

std::string make_automatic_units(torch::nn::Module& model) {
  const int64_t total = trainable_numel(model);
  torch::nn::SequentialImpl* best = nullptr;
  std::string best_name;
  int64_t best_covered = 0;
  int best_children = 0;
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    auto* s = dynamic_cast<torch::nn::SequentialImpl*>(item.value().get());
    if (!s) continue;
    int children = 0;
    const int64_t covered = coverage(*s, &children);
    if (children >= 2 && covered > best_covered) {
      best = s, best_name = item.key(), best_covered = covered, best_children = children;
    }
  }
  if (!best || 2 * best_covered < total) {
    std::string found = containers(model);
    throw ConfigError(
        "ZeRO stage 3 partitions the parameters of units, and this model marks none; no torch::nn::Sequential in it "
        "holds most of its parameters, so none could be made automatically (stage 3 would keep every parameter "
        "whole on every rank). Mark the module type of its repeated blocks as a unit: ZS_UNIT_MODULE(Block) in "
        "place of TORCH_MODULE(Block) (zs/zero/unit.hpp), or call zs::make_units(sequential) on a Sequential whose "
        "children should be gathered one at a time; or use stage 2." +
        (found.empty() ? std::string() : "\nContainers in this model:" + found));
  }
  make_units(*best);
  return "made the " + std::to_string(best_children) + " children with parameters of " +
         (best_name.empty() ? std::string("the model") : "'" + best_name + "'") + " (torch::nn::Sequential, " +
         std::to_string(100 * best_covered / total) + "% of the parameters) ZeRO-3 units, as no unit was marked";
}

}  // namespace zs
