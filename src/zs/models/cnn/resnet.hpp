#pragma once
// ResNet-18 and ResNet-50 as torchvision builds them (v1.5: the stride in the bottleneck's 3x3
// convolution), with its parameter and buffer names ("layer2.0.downsample.1.running_mean", "fc.weight").
// The residual blocks are ZeRO-3 units; the stem (conv1, bn1) stays persistent and the classifier fc
// is a unit of its own. Trains with any LibTorch optimizer, no engine needed.
#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "zs/models/cnn/batch_norm.hpp"
#include "zs/models/cnn/layers.hpp"
#include "zs/zero/unit.hpp"

namespace zs::cnn {

// conv3x3-BN-ReLU-conv3x3-BN plus the shortcut (a strided 1x1 conv + BN where the shape changes).
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2d conv1{nullptr};
  zs::BatchNorm2d bn1{nullptr};
  torch::nn::Conv2d conv2{nullptr};
  zs::BatchNorm2d bn2{nullptr};
  LayerSequence downsample{nullptr};  // null when the shortcut is the identity
};
ZS_UNIT_MODULE(BasicBlock);

// conv1x1-BN-ReLU-conv3x3(stride)-BN-ReLU-conv1x1(x4)-BN plus the shortcut.
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2d conv1{nullptr};
  zs::BatchNorm2d bn1{nullptr};
  torch::nn::Conv2d conv2{nullptr};
  zs::BatchNorm2d bn2{nullptr};
  torch::nn::Conv2d conv3{nullptr};
  zs::BatchNorm2d bn3{nullptr};
  LayerSequence downsample{nullptr};
};
ZS_UNIT_MODULE(Bottleneck);

class ResNetImpl : public torch::nn::Module {
 public:
  // depth 18 (BasicBlock, [2, 2, 2, 2]) or 50 (Bottleneck, [3, 4, 6, 3]).
  ResNetImpl(int64_t depth, int64_t num_classes);
  // images [N, 3, H, W] (any memory format, any floating dtype the parameters have) -> logits [N, classes].
  at::Tensor forward(const at::Tensor& images);

  torch::nn::Conv2d conv1{nullptr};
  zs::BatchNorm2d bn1{nullptr};
  LayerSequence layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  std::shared_ptr<zs::Unit<torch::nn::LinearImpl>> fc;
};
TORCH_MODULE(ResNet);

}  // namespace zs::cnn
