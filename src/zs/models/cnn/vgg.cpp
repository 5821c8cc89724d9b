#include "zs/models/cnn/vgg.hpp"

#include <memory>

#include <ATen/ops/adaptive_avg_pool2d.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "zs/models/cnn/layers.hpp"
#include "zs/zero/unit.hpp"

namespace zs::cnn {

VGG16BNImpl::VGG16BNImpl(int64_t num_classes, double dropout) {
  constexpr int64_t M = 0;  // a 2x2 max-pool
  const int64_t config[] = {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M};
  torch::nn::Sequential f;
  int64_t in = 3;
  for (int64_t v : config) {
    if (v == M) {
      f->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    f->push_back(std::make_shared<zs::Unit<torch::nn::Conv2dImpl>>(conv_options(in, v, 3, 1, 1, /*bias=*/true)));
    f->push_back(batch_norm(v));
    f->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
    in = v;
  }
  features = register_module("features", f);
  // The ReLUs after the Linear units are not in place: they would overwrite a unit's output.
  using LinearUnit = zs::Unit<torch::nn::LinearImpl>;
  classifier = register_module(
      "classifier", torch::nn::Sequential(std::make_shared<LinearUnit>(512 * 7 * 7, 4096), torch::nn::ReLU(),
                                          torch::nn::Dropout(dropout), std::make_shared<LinearUnit>(4096, 4096),
                                          torch::nn::ReLU(), torch::nn::Dropout(dropout),
                                          std::make_shared<LinearUnit>(4096, num_classes)));
  init_cnn_weights(*this, LinearInit::Normal001);
}

at::Tensor VGG16BNImpl::forward(const at::Tensor& images) {
  at::Tensor x = features->forward(images);
  x = at::adaptive_avg_pool2d(x, {7, 7}).flatten(1);
  return classifier->forward(x);
}

}  // namespace zs::cnn
