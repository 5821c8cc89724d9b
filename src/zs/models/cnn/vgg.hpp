#pragma once
// VGG-16 with BatchNorm as torchvision builds it, with its parameter and buffer names
// ("features.41.running_var", "classifier.6.weight"). torchvision's `features` is one flat Sequential
// (conv, BN, ReLU, ..., MaxPool), so the units are made in place: each of its 13 convolutions and the
// classifier's 3 Linears is a zs::Unit of the built-in module (names unchanged); the BatchNorms stay
// persistent (1,024 values each at most). Trains without an engine.
#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

namespace zs::cnn {

class VGG16BNImpl : public torch::nn::Module {
 public:
  // dropout: after the classifier's first two Linears (torchvision's 0.5).
  explicit VGG16BNImpl(int64_t num_classes, double dropout = 0.5);
  // images [N, 3, H, W] (H, W >= 32) -> logits [N, classes]; the features are pooled to 7x7 whatever
  // the image size, as torchvision does.
  at::Tensor forward(const at::Tensor& images);

  torch::nn::Sequential features{nullptr};    // 13 x (conv unit, BN, ReLU) with 5 MaxPools: children 0-43
  torch::nn::Sequential classifier{nullptr};  // Linear unit, ReLU, Dropout, Linear unit, ReLU, Dropout, Linear unit
};
TORCH_MODULE(VGG16BN);

}  // namespace zs::cnn
