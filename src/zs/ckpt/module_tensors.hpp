// The parts of a module's state the engine does not own, which checkpoints save next to it:
// buffers and frozen (requires_grad = false) parameters, and the CPU random generator's state.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace zs {

// Buffers and frozen parameters by name, each tensor once (tied tensors under their first name).
std::vector<std::pair<std::string, at::Tensor>> untrained_module_tensors(torch::nn::Module& module);

// The names of trainable parameters, in registration order, each tensor once.
std::vector<std::string> trainable_parameter_names(torch::nn::Module& module);

// The default CPU generator's state (uint8 bytes) and its restoration.
at::Tensor cpu_rng_state();
void set_cpu_rng_state(const at::Tensor& state);

}  // namespace zs
