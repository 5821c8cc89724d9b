// The test programs' dump of a model's parameters: {name: [float, ...]} (values as fp32).
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

namespace zs::testing {

inline nlohmann::json parameters_json(torch::nn::Module& model) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    at::Tensor t = item.value().detach().to(at::kFloat).contiguous().cpu();
    out[item.key()] = std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  }
  return out;
}

}  // namespace zs::testing
