#pragma once
// Building blocks the CNN families share, made the way torchvision makes them so that parameter and
// buffer names, shapes and numerics match its models: convolutions without bias before a BatchNorm,
// Conv-BN-activation Sequentials (children "0", "1", "2"), torchvision's initialisation, channel
// rounding and stochastic depth. Every BatchNorm is a zs::BatchNorm2d (batch_norm.hpp): torch's,
// with the seam zs::convert_sync_batchnorm sets for SyncBatchNorm.
#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "zs/models/cnn/batch_norm.hpp"

namespace zs::cnn {

// A Sequential that can sit inside another (LibTorch's own cannot: its forward is a template):
// children "0", "1", ... like torch.nn.Sequential's, run in order on one tensor.
class LayerSequenceImpl : public torch::nn::SequentialImpl {
 public:
  using SequentialImpl::SequentialImpl;
  at::Tensor forward(const at::Tensor& x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(LayerSequence);

// BatchNorm's eps and momentum (PyTorch's convention: new = (1 - momentum) * old + momentum * batch).
struct BatchNormSpec {
  double eps = 1e-5;
  double momentum = 0.1;
};

// Conv2d with padding (kernel - 1) / 2 (the "same" size at stride 1), no bias unless asked for.
torch::nn::Conv2dOptions conv_options(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t groups = 1,
                                      bool bias = false);
torch::nn::Conv2d conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t groups = 1,
                         bool bias = false);
zs::BatchNorm2d batch_norm(int64_t channels, const BatchNormSpec& spec = {});

enum class Activation { None, ReLU6, SiLU };

// torchvision's Conv2dNormActivation: Sequential(conv "0", BatchNorm "1"[, activation "2"]).
LayerSequence conv_norm_activation(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                                           Activation activation, const BatchNormSpec& spec);

// How a family initialises its Linear layers (torchvision differs per model).
enum class LinearInit {
  Default,        // PyTorch's Linear default (ResNet): U(+-1/sqrt(in)) for weight and bias
  Normal001,      // N(0, 0.01) weight, zero bias (MobileNetV2, VGG)
  UniformByOut,   // U(+-1/sqrt(out)) weight, zero bias (EfficientNet)
};

// torchvision's initialisation over every module of `model`: convolutions Kaiming-normal with fan_out
// (gain sqrt(2)) and zero bias, BatchNorm weight 1 and bias 0, Linear as `linear` says. Draws from
// the default generator, so torch::manual_seed makes it reproducible.
void init_cnn_weights(torch::nn::Module& model, LinearInit linear);

// torchvision's channel rounding: to the nearest multiple of `divisor` (at least `divisor`), never more
// than 10% below v.
int64_t make_divisible(double v, int64_t divisor = 8);

// Stochastic depth in "row" mode: in training each sample's residual branch is kept with probability
// 1 - p and scaled by 1 / (1 - p), else zeroed; the identity in eval mode or with p == 0. Draws from
// the default generator of x's device.
at::Tensor stochastic_depth(const at::Tensor& x, double p, bool training);

}  // namespace zs::cnn
