#include "zs/models/cnn/efficientnet.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include <ATen/TensorOperators.h>
#include <ATen/ops/adaptive_avg_pool2d.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/silu.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

namespace zs::cnn {

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t channels, int64_t squeeze_channels) {
  fc1 = register_module("fc1", conv2d(channels, squeeze_channels, 1, 1, 1, /*bias=*/true));
  fc2 = register_module("fc2", conv2d(squeeze_channels, channels, 1, 1, 1, /*bias=*/true));
}

at::Tensor SqueezeExcitationImpl::forward(const at::Tensor& x) {
  const at::Tensor scale = at::sigmoid(fc2(at::silu(fc1(at::adaptive_avg_pool2d(x, {1, 1})))));
  return scale * x;
}

MBConvImpl::MBConvImpl(const MBConvSpec& spec, double sd_prob, const BatchNormSpec& bn)
    : use_res_connect(spec.stride == 1 && spec.input_channels == spec.out_channels), stochastic_depth_prob(sd_prob) {
  if (spec.stride != 1 && spec.stride != 2) throw std::invalid_argument("MBConv stride must be 1 or 2, got " + std::to_string(spec.stride));
  const int64_t expanded = make_divisible(static_cast<double>(spec.input_channels) * spec.expand_ratio);
  LayerSequence layers;
  if (expanded != spec.input_channels)
    layers->push_back(conv_norm_activation(spec.input_channels, expanded, 1, 1, 1, Activation::SiLU, bn));
  layers->push_back(conv_norm_activation(expanded, expanded, spec.kernel, spec.stride, expanded, Activation::SiLU, bn));
  layers->push_back(SqueezeExcitation(expanded, std::max<int64_t>(1, spec.input_channels / 4)));
  layers->push_back(conv_norm_activation(expanded, spec.out_channels, 1, 1, 1, Activation::None, bn));
  block = register_module("block", layers);
}

at::Tensor MBConvImpl::forward(const at::Tensor& x) {
  at::Tensor result = block->forward(x);
  if (use_res_connect) {
    result = stochastic_depth(result, stochastic_depth_prob, is_training());
    result += x;
  }
  return result;
}

EfficientNetB0Impl::EfficientNetB0Impl(int64_t num_classes, double dropout, double stochastic_depth_prob) {
  struct Stage {
    double expand_ratio;
    int64_t kernel, stride, input_channels, out_channels, layers;
  };
  // torchvision's B0 table (width and depth multipliers 1.0).
  const Stage stages[] = {{1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},  {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
                          {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1}};
  const BatchNormSpec bn;
  int64_t total_blocks = 0;
  for (const Stage& s : stages) total_blocks += s.layers;

  torch::nn::Sequential f;
  f->push_back(conv_norm_activation(3, stages[0].input_channels, 3, 2, 1, Activation::SiLU, bn));
  int64_t block_id = 0;
  for (const Stage& s : stages) {
    LayerSequence stage;
    for (int64_t i = 0; i < s.layers; ++i) {
      const MBConvSpec spec{s.expand_ratio, s.kernel, i == 0 ? s.stride : 1, i == 0 ? s.input_channels : s.out_channels,
                            s.out_channels};
      const double sd_prob = stochastic_depth_prob * static_cast<double>(block_id) / static_cast<double>(total_blocks);
      stage->push_back(MBConv(spec, sd_prob, bn));
      ++block_id;
    }
    f->push_back(stage);
  }
  const int64_t last_in = stages[6].out_channels, last_out = 4 * last_in;
  f->push_back(conv_norm_activation(last_in, last_out, 1, 1, 1, Activation::SiLU, bn));
  features = register_module("features", f);
  classifier = register_module(
      "classifier", torch::nn::Sequential(torch::nn::Dropout(dropout),
                                          std::make_shared<zs::Unit<torch::nn::LinearImpl>>(last_out, num_classes)));
  init_cnn_weights(*this, LinearInit::UniformByOut);
}

at::Tensor EfficientNetB0Impl::forward(const at::Tensor& images) {
  at::Tensor x = features->forward(images);
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return classifier->forward(x);
}

}  // namespace zs::cnn
