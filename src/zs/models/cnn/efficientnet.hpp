#pragma once
// EfficientNet-B0 as torchvision builds it, with its parameter and buffer names
// ("features.2.1.block.2.fc1.weight", "classifier.1.weight"). The MBConv blocks (features.1.0 to
// features.7.0) are ZeRO-3 units; the stem (features.0) and the head's 1x1 convolution (features.8)
// stay persistent, and the classifier's Linear is a unit of its own. BatchNorm as torchvision's B0 has
// it (PyTorch's defaults: eps 1e-5, momentum 0.1; only B5-B7 and V2 change them). Stochastic depth
// works in training (drawn from the default generator of the input's device) and is the identity in
// eval mode. Trains without an engine.
#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "zs/models/cnn/layers.hpp"
#include "zs/zero/unit.hpp"

namespace zs::cnn {

// Squeeze-and-excitation: x * sigmoid(fc2(silu(fc1(mean over H, W of x)))), fc1/fc2 1x1 convs with bias.
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  SqueezeExcitationImpl(int64_t channels, int64_t squeeze_channels);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2d fc1{nullptr};
  torch::nn::Conv2d fc2{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

// The MBConv block's shape (torchvision's MBConvConfig for one block).
struct MBConvSpec {
  double expand_ratio;
  int64_t kernel;
  int64_t stride;
  int64_t input_channels;
  int64_t out_channels;
};

// Sequential "block": [1x1 expand-BN-SiLU when the ratio widens], kxk depthwise(stride)-BN-SiLU,
// squeeze-excitation, 1x1 project-BN; plus the input (after stochastic depth) when the shape is
// unchanged.
class MBConvImpl : public torch::nn::Module {
 public:
  MBConvImpl(const MBConvSpec& spec, double stochastic_depth_prob, const BatchNormSpec& bn);
  at::Tensor forward(const at::Tensor& x);

  LayerSequence block{nullptr};
  bool use_res_connect;
  double stochastic_depth_prob;
};
ZS_UNIT_MODULE(MBConv);

class EfficientNetB0Impl : public torch::nn::Module {
 public:
  // dropout before the classifier (torchvision's 0.2); stochastic_depth_prob the last block's drop
  // probability, growing linearly from 0 over the blocks (torchvision's 0.2).
  explicit EfficientNetB0Impl(int64_t num_classes, double dropout = 0.2, double stochastic_depth_prob = 0.2);
  // images [N, 3, H, W] -> logits [N, classes].
  at::Tensor forward(const at::Tensor& images);

  torch::nn::Sequential features{nullptr};    // stem, 7 stages (Sequentials of MBConv units), head conv
  torch::nn::Sequential classifier{nullptr};  // Dropout "0", Linear unit "1"
};
TORCH_MODULE(EfficientNetB0);

}  // namespace zs::cnn
