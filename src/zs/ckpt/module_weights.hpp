// Loading a safetensors file (a consolidated checkpoint) into a module by name, before training:
// every parameter and buffer of the module must be in the file with the same shape; the file may
// hold nothing else. Values are converted to each tensor's dtype and device.
#pragma once

#include <string>

#include <torch/nn/module.h>

namespace zs {

// Throws CheckpointError naming the file and the first tensor that is missing, extra or misshapen.
void load_module_weights(torch::nn::Module& module, const std::string& path);

}  // namespace zs
