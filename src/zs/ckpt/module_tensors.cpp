#include "zs/ckpt/module_tensors.hpp"

#include <mutex>
#include <unordered_set>

#include <ATen/Context.h>

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

at::Tensor rng_state(const c10::Device& device) {
  at::Generator gen = at::globalContext().defaultGenerator(device);  // a handle to the shared generator
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_rng_state(const c10::Device& device, const at::Tensor& state) {
  at::Generator gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

std::string rng_tensor_name(const c10::Device& device) {
  return std::string("__rng__.") + (device.is_cpu() ? "cpu" : c10::DeviceTypeName(device.type(), /*lower_case=*/true));
}

}  // namespace zs
