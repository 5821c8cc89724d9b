#include "zs/models/cnn/resnet.hpp"

#include <stdexcept>
#include <string>

#include <ATen/ops/adaptive_avg_pool2d.h>
#include <ATen/ops/max_pool2d.h>
#include <ATen/TensorOperators.h>

#include "zs/models/cnn/layers.hpp"

namespace zs::cnn {

namespace {

// The shortcut's projection where the block changes the shape: Sequential(conv1x1(stride) "0", BN "1").
LayerSequence make_downsample(int64_t inplanes, int64_t out, int64_t stride) {
  if (stride == 1 && inplanes == out) return nullptr;
  return LayerSequence(conv2d(inplanes, out, 1, stride), batch_norm(out));
}

template <class Block>
LayerSequence make_layer(int64_t& inplanes, int64_t planes, int64_t blocks, int64_t stride) {
  LayerSequence layer;
  for (int64_t i = 0; i < blocks; ++i) {
    layer->push_back(Block(inplanes, planes, i == 0 ? stride : 1));
    inplanes = planes * Block::Impl::expansion;
  }
  return layer;
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride) {
  conv1 = register_module("conv1", conv2d(inplanes, planes, 3, stride));
  bn1 = register_module("bn1", batch_norm(planes));
  conv2 = register_module("conv2", conv2d(planes, planes, 3));
  bn2 = register_module("bn2", batch_norm(planes));
  if (auto d = make_downsample(inplanes, planes * expansion, stride)) downsample = register_module("downsample", d);
}

at::Tensor BasicBlockImpl::forward(const at::Tensor& x) {
  at::Tensor out = bn1(conv1(x)).relu_();
  out = bn2(conv2(out));
  out += downsample ? downsample->forward(x) : x;
  return out.relu_();
}

BottleneckImpl::BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride) {
  conv1 = register_module("conv1", conv2d(inplanes, planes, 1));
  bn1 = register_module("bn1", batch_norm(planes));
  conv2 = register_module("conv2", conv2d(planes, planes, 3, stride));
  bn2 = register_module("bn2", batch_norm(planes));
  conv3 = register_module("conv3", conv2d(planes, planes * expansion, 1));
  bn3 = register_module("bn3", batch_norm(planes * expansion));
  if (auto d = make_downsample(inplanes, planes * expansion, stride)) downsample = register_module("downsample", d);
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) {
  at::Tensor out = bn1(conv1(x)).relu_();
  out = bn2(conv2(out)).relu_();
  out = bn3(conv3(out));
  out += downsample ? downsample->forward(x) : x;
  return out.relu_();
}

ResNetImpl::ResNetImpl(int64_t depth, int64_t num_classes) {
  if (depth != 18 && depth != 50) throw std::invalid_argument("ResNet depth must be 18 or 50, got " + std::to_string(depth));
  conv1 = register_module("conv1", torch::nn::Conv2d(conv_options(3, 64, 7, 2).padding(3)));
  bn1 = register_module("bn1", batch_norm(64));
  int64_t inplanes = 64;
  const int64_t planes[4] = {64, 128, 256, 512};
  const int64_t blocks18[4] = {2, 2, 2, 2}, blocks50[4] = {3, 4, 6, 3};
  LayerSequence* layers[4] = {&layer1, &layer2, &layer3, &layer4};
  for (int i = 0; i < 4; ++i) {
    const int64_t stride = i == 0 ? 1 : 2;
    *layers[i] = register_module("layer" + std::to_string(i + 1),
                                 depth == 18 ? make_layer<BasicBlock>(inplanes, planes[i], blocks18[i], stride)
                                             : make_layer<Bottleneck>(inplanes, planes[i], blocks50[i], stride));
  }
  fc = register_module("fc", std::make_shared<zs::Unit<torch::nn::LinearImpl>>(inplanes, num_classes));
  init_cnn_weights(*this, LinearInit::Default);
}

at::Tensor ResNetImpl::forward(const at::Tensor& images) {
  at::Tensor x = bn1(conv1(images)).relu_();
  x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc->forward(x);
}

}  // namespace zs::cnn
