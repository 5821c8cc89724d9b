#include "zs/models/cnn/mobilenet_v2.hpp"

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include <ATen/TensorOperators.h>
#include <ATen/ops/adaptive_avg_pool2d.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include "zs/models/cnn/layers.hpp"

namespace zs::cnn {

InvertedResidualImpl::InvertedResidualImpl(int64_t inp, int64_t oup, int64_t stride, int64_t expand_ratio)
    : use_res_connect(stride == 1 && inp == oup) {
  if (stride != 1 && stride != 2) throw std::invalid_argument("InvertedResidual stride must be 1 or 2, got " + std::to_string(stride));
  const int64_t hidden = static_cast<int64_t>(std::lround(static_cast<double>(inp * expand_ratio)));
  const BatchNormSpec bn;
  LayerSequence layers;
  if (expand_ratio != 1) layers->push_back(conv_norm_activation(inp, hidden, 1, 1, 1, Activation::ReLU6, bn));
  layers->push_back(conv_norm_activation(hidden, hidden, 3, stride, hidden, Activation::ReLU6, bn));
  layers->push_back(conv2d(hidden, oup, 1));
  layers->push_back(batch_norm(oup, bn));
  conv = register_module("conv", layers);
}

at::Tensor InvertedResidualImpl::forward(const at::Tensor& x) {
  return use_res_connect ? x + conv->forward(x) : conv->forward(x);
}

MobileNetV2Impl::MobileNetV2Impl(int64_t num_classes, double dropout) {
  struct Stage {
    int64_t t, c, n, s;  // expansion, output channels, blocks, first stride
  };
  const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int64_t channels = make_divisible(32);
  const int64_t last_channel = make_divisible(1280);
  const BatchNormSpec bn;
  torch::nn::Sequential f;
  f->push_back(conv_norm_activation(3, channels, 3, 2, 1, Activation::ReLU6, bn));
  for (const Stage& st : stages) {
    const int64_t out = make_divisible(static_cast<double>(st.c));
    for (int64_t i = 0; i < st.n; ++i) {
      f->push_back(InvertedResidual(channels, out, i == 0 ? st.s : 1, st.t));
      channels = out;
    }
  }
  f->push_back(conv_norm_activation(channels, last_channel, 1, 1, 1, Activation::ReLU6, bn));
  features = register_module("features", f);
  classifier = register_module(
      "classifier", torch::nn::Sequential(torch::nn::Dropout(dropout),
                                          std::make_shared<zs::Unit<torch::nn::LinearImpl>>(last_channel, num_classes)));
  init_cnn_weights(*this, LinearInit::Normal001);
}

at::Tensor MobileNetV2Impl::forward(const at::Tensor& images) {
  at::Tensor x = features->forward(images);
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return classifier->forward(x);
}

}  // namespace zs::cnn
