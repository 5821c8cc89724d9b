#pragma once
// MobileNetV2 (width 1.0) as torchvision builds it, with its parameter and buffer names
// ("features.3.conv.1.0.weight", "classifier.1.bias"). The inverted-residual blocks (features.1 to
// features.17) are ZeRO-3 units; the stem (features.0) and the last 1x1 convolution (features.18)
// stay persistent, and the classifier's Linear is a unit of its own. Trains without an engine.
#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include "zs/models/cnn/layers.hpp"
#include "zs/zero/unit.hpp"

namespace zs::cnn {

// [1x1 expand-BN-ReLU6 (when expand_ratio > 1)], 3x3 depthwise(stride)-BN-ReLU6, 1x1 project-BN, all
// in the Sequential "conv"; plus the input when the shape is unchanged.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int64_t inp, int64_t oup, int64_t stride, int64_t expand_ratio);
  at::Tensor forward(const at::Tensor& x);

  LayerSequence conv{nullptr};
  bool use_res_connect;
};
ZS_UNIT_MODULE(InvertedResidual);

class MobileNetV2Impl : public torch::nn::Module {
 public:
  // dropout: before the classifier's Linear (torchvision's default 0.2).
  explicit MobileNetV2Impl(int64_t num_classes, double dropout = 0.2);
  // images [N, 3, H, W] -> logits [N, classes].
  at::Tensor forward(const at::Tensor& images);

  torch::nn::Sequential features{nullptr};    // stem, 17 InvertedResidual units, 1x1 conv to 1280
  torch::nn::Sequential classifier{nullptr};  // Dropout "0", Linear unit "1"
};
TORCH_MODULE(MobileNetV2);

}  // namespace zs::cnn
