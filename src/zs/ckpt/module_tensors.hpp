// The parts of a module's state the engine does not own, which checkpoints save next to it:
// buffers and frozen (requires_grad = false) parameters, and the random generators' states.
#pragma once

#include <string>

#include <c10/core/Device.h>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace zs {

// Buffers and frozen parameters by name, each tensor once (tied tensors under their first name).
std::vector<std::pair<std::string, at::Tensor>> untrained_module_tensors(torch::nn::Module& module);

// The names of trainable parameters, in registration order, each tensor once.
std::vector<std::string> trainable_parameter_names(torch::nn::Module& module);

// A device's default random generator state (uint8 bytes) and its restoration; checkpoints keep
// the CPU's and, on GPUs, the rank's device's, as "__rng__.cpu" / "__rng__.cuda".
at::Tensor rng_state(const c10::Device& device);
void set_rng_state(const c10::Device& device, const at::Tensor& state);
std::string rng_tensor_name(const c10::Device& device);

}  // namespace zs
