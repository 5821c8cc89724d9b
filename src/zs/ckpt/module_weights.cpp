#include "zs/ckpt/module_weights.hpp"

#include <set>

#include <c10/core/GradMode.h>

#include "zs/ckpt/safetensors.hpp"

namespace zs {

void load_module_weights(torch::nn::Module& module, const std::string& path) {
  const SafetensorsReader file(path);
  std::set<std::string> used;
  c10::NoGradGuard no_grad;
  auto load = [&](const std::string& name, at::Tensor t) {
    if (!file.contains(name)) throw CheckpointError(path + " has no tensor " + name + " (the model has it)");
    const at::Tensor saved = file.read(name);
    if (saved.sizes() != t.sizes())
      throw CheckpointError(path + ": " + name + " has shape " + c10::str(saved.sizes()) + " but the model's is " +
                            c10::str(t.sizes()));
    t.copy_(saved);
    used.insert(name);
  };
  for (const auto& item : module.named_parameters(/*recurse=*/true)) load(item.key(), item.value());
  for (const auto& item : module.named_buffers(true))
    if (item.value().defined()) load(item.key(), item.value());
  for (const TensorInfo& t : file.tensors())
    if (!used.count(t.name)) throw CheckpointError(path + " has tensor " + t.name + ", which the model does not have");
}

}  // namespace zs
