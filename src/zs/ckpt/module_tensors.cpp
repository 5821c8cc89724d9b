#include "zs/ckpt/module_tensors.hpp"

#include <mutex>
#include <unordered_set>

#include <ATen/CPUGeneratorImpl.h>

namespace zs {

std::vector<std::pair<std::string, at::Tensor>> untrained_module_tensors(torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  std::unordered_set<const void*> added;
  for (const auto& item : module.named_parameters(true))
    if (!item.value().requires_grad() && added.insert(item.value().unsafeGetTensorImpl()).second)
      out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(true))
    if (item.value().defined() && added.insert(item.value().unsafeGetTensorImpl()).second)
      out.emplace_back(item.key(), item.value());
  return out;
}

std::vector<std::string> trainable_parameter_names(torch::nn::Module& module) {
  std::vector<std::string> names;
  std::unordered_set<const void*> seen;
  for (const auto& item : module.named_parameters(true))
    if (item.value().requires_grad() && seen.insert(item.value().unsafeGetTensorImpl()).second)
      names.push_back(item.key());
  return names;
}

at::Tensor cpu_rng_state() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const at::Tensor& state) {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace zs
