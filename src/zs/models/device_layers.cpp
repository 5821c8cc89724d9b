#include "zs/models/device_layers.hpp"

#include <ATen/ops/embedding.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/linear.h>
#include <torch/csrc/autograd/custom_function.h>

#ifdef ZS_WITH_CUDA
#include "zs/config/env.hpp"
#include "zs/models/norm_bias_cuda.hpp"
#endif

namespace zs {

DeviceLinearImpl::DeviceLinearImpl(int64_t in_features, int64_t out_features, bool with_bias, c10::Device device) {
  weight = register_parameter("weight", at::empty({out_features, in_features}, fp32_on(device)));
  if (with_bias) bias = register_parameter("bias", at::empty({out_features}, fp32_on(device)));
}

// ATen's linear, not the C++ frontend's Linear::forward: on [B, T, C] inputs the latter runs a
// matmul and then adds the bias in a separate broadcast kernel, where ATen folds the bias into the
// GEMM (about 8% of a GPT-2 1.5B step on an H200).
// On GPUs in training the bias gradient comes from our column-sum kernel, and both gradients are
// written where the engine wants them (norm_bias_cuda.hpp).
at::Tensor DeviceLinearImpl::forward(const at::Tensor& x) {
#ifdef ZS_WITH_CUDA
  if (fused_norm_bias_applies(x, weight)) return linear_cuda(x, weight, bias);
#endif
  return at::linear(x, weight, bias);
}

at::Tensor DeviceLinearImpl::forward_unevaluated(const at::Tensor& x) {
#ifdef ZS_WITH_CUDA
  if (fused_norm_bias_applies(x, weight)) return linear_cuda(x, weight, bias, /*evaluate=*/false);
#endif
  return forward(x);
}

std::vector<at::Tensor> shared_input_linears(const at::Tensor& x, const std::vector<DeviceLinear>& layers) {
#ifdef ZS_WITH_CUDA
  static const bool enabled = switch_from_env("ZS_SHARED_INPUT_LINEARS");
  bool applies = enabled && !layers.empty() && fused_norm_bias_applies(x, layers.front()->weight);
  for (const DeviceLinear& l : layers)
    applies = applies && l->bias.defined() == layers.front()->bias.defined() &&
              l->weight.scalar_type() == layers.front()->weight.scalar_type();
  if (applies) {
    std::vector<at::Tensor> weights, biases;
    for (const DeviceLinear& l : layers) {
      weights.push_back(l->weight);
      if (l->bias.defined()) biases.push_back(l->bias);
    }
    return linears_cuda(x, weights, biases);
  }
#endif
  std::vector<at::Tensor> out;
  for (DeviceLinear l : layers) out.push_back(l->forward(x));  // a holder copy shares the module
  return out;
}

namespace {

struct SumUnevaluated : torch::autograd::Function<SumUnevaluated> {
  static at::Tensor forward(torch::autograd::AutogradContext*, const at::Tensor& a, const at::Tensor& b) {
    TORCH_CHECK(a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type(),
                "sum_unevaluated: the two tensors must share a shape and a dtype");
    return at::empty_like(a);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*, torch::autograd::variable_list grads) {
    return {grads[0], grads[0]};
  }
};

}  // namespace

at::Tensor sum_unevaluated(const at::Tensor& a, const at::Tensor& b) { return SumUnevaluated::apply(a, b); }

DeviceEmbeddingImpl::DeviceEmbeddingImpl(int64_t num_embeddings, int64_t dim, c10::Device device) {
  weight = register_parameter("weight", at::empty({num_embeddings, dim}, fp32_on(device)));
}

at::Tensor DeviceEmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

}  // namespace zs
