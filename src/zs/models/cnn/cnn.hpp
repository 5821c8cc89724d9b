#pragma once
// The image classifiers by name: ResNet-18/50, MobileNetV2, EfficientNet-B0 and VGG-16-BN, each a plain
// torch::nn::Module with torchvision's parameter and buffer names, shapes, initialisation and eval-mode
// numerics, so a torchvision state_dict saved as safetensors loads with zs::load_module_weights and
// gives torchvision's logits. Their residual blocks (and large Linears/convolutions) are ZeRO-3 units.
//
//   zs::CnnModel m = zs::make_cnn("resnet50", 10);
//   at::Tensor logits = m.forward(images);      // images [N, 3, H, W] -> [N, 10]
//   torch::optim::SGD opt(m.module->parameters(), 0.1);
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace zs {

struct CnnOptions {
  int64_t num_classes = 1000;
  // Dropout before the classifier (before its last two Linears in VGG); unset: the model's default
  // (ResNet has none and refuses a value other than 0).
  std::optional<double> dropout;
  // EfficientNet's stochastic depth (the last block's drop probability); unset: 0.2. Others refuse it.
  std::optional<double> stochastic_depth_prob;
};

struct CnnModel {
  std::string type;                                     // the canonical name ("resnet50", ...)
  std::shared_ptr<torch::nn::Module> module;            // parameters, buffers, train()/eval(), to()
  std::function<at::Tensor(const at::Tensor&)> forward;  // images -> logits
};

// The supported names: resnet18, resnet50, mobilenet_v2, efficientnet_b0, vgg16_bn.
const std::vector<std::string>& cnn_types();

// `type` as a canonical name: the names above in any letter case with or without '-' and '_'
// ("ResNet-50", "mobilenetv2"), and the short names of DeepSpeed's image examples (resnet = resnet50, mobilenet = mobilenet_v2,
// efficientnet = efficientnet_b0, vgg = vgg16_bn). Throws std::invalid_argument listing the
// supported names for anything else.
std::string canonical_cnn_type(const std::string& type);

// A freshly initialised model (torchvision's initialisation, from the default generator).
CnnModel make_cnn(const std::string& type, const CnnOptions& options);
inline CnnModel make_cnn(const std::string& type, int64_t num_classes) {
  CnnOptions options;
  options.num_classes = num_classes;
  return make_cnn(type, options);
}

}  // namespace zs
