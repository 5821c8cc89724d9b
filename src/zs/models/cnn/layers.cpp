#include "zs/models/cnn/layers.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

namespace zs::cnn {

torch::nn::Conv2dOptions conv_options(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                                      bool bias) {
  return torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding((kernel - 1) / 2).groups(groups).bias(bias);
}

torch::nn::Conv2d conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups, bool bias) {
  return torch::nn::Conv2d(conv_options(in, out, kernel, stride, groups, bias));
}

zs::BatchNorm2d batch_norm(int64_t channels, const BatchNormSpec& spec) {
  return zs::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(spec.eps).momentum(spec.momentum));
}

LayerSequence conv_norm_activation(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                                           Activation activation, const BatchNormSpec& spec) {
  LayerSequence seq(conv2d(in, out, kernel, stride, groups), batch_norm(out, spec));
  if (activation == Activation::ReLU6) seq->push_back(torch::nn::ReLU6(torch::nn::ReLU6Options().inplace(true)));
  if (activation == Activation::SiLU) seq->push_back(torch::nn::SiLU());
  return seq;
}

void init_cnn_weights(torch::nn::Module& model, LinearInit linear) {
  c10::NoGradGuard no_grad;
  // (Not the model itself: this runs in its constructor, before a shared_ptr owns it.)
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(m.get())) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    } else if (auto* fc = dynamic_cast<torch::nn::LinearImpl*>(m.get())) {
      if (linear == LinearInit::Default) {
        fc->reset_parameters();
      } else if (linear == LinearInit::Normal001) {
        fc->weight.normal_(0.0, 0.01);
        fc->bias.zero_();
      } else {
        const double range = 1.0 / std::sqrt(static_cast<double>(fc->weight.size(0)));
        fc->weight.uniform_(-range, range);
        fc->bias.zero_();
      }
    }
  }
}

int64_t make_divisible(double v, int64_t divisor) {
  int64_t rounded = std::max(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

at::Tensor stochastic_depth(const at::Tensor& x, double p, bool training) {
  if (p < 0.0 || p > 1.0) throw std::invalid_argument("stochastic depth probability must be in [0, 1], got " + std::to_string(p));
  if (!training || p == 0.0) return x;
  const double survival = 1.0 - p;
  std::vector<int64_t> size(x.dim(), 1);
  size[0] = x.size(0);
  at::Tensor noise = at::empty(size, x.options()).bernoulli_(survival);
  if (survival > 0.0) noise.div_(survival);
  return x * noise;
}

}  // namespace zs::cnn
