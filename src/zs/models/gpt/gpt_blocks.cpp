#include "zs/models/gpt/gpt_blocks.hpp"

#include <ATen/ops/dropout.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>

#include "zs/models/attention.hpp"
#include "zs/models/device_layers.hpp"

#ifdef ZS_WITH_CUDA
#include "zs/models/gpt/gelu_cuda.hpp"
#include "zs/models/norm_bias_cuda.hpp"
#endif

namespace zs {
namespace {

// The MLP's activation: on GPUs in bfloat16 the exact form by table (gelu_cuda.hpp), ATen's bits
// either way.
at::Tensor activation(const at::Tensor& x, const std::string& approximate) {
#ifdef ZS_WITH_CUDA
  if (gelu_by_table_applies(x, approximate)) return gelu_by_table(x);
#endif
  return at::gelu(x, approximate);
}

}  // namespace

LayerNormImpl::LayerNormImpl(int64_t n_embd, bool with_bias, c10::Device device) {
  weight = register_parameter("weight", at::ones({n_embd}, fp32_on(device)));
  if (with_bias) bias = register_parameter("bias", at::zeros({n_embd}, fp32_on(device)));
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) {
  // An undefined bias tensor tells layer_norm there is none. On GPUs our kernels, with or without
  // autograd (a checkpointed forward and its recompute then agree); in training the weight and bias
  // gradients come from our column-sum kernel (norm_bias_cuda.hpp).
#ifdef ZS_WITH_CUDA
  if (fused_layer_norm_applies(x, weight)) return layer_norm_fused_param_grads(x, weight, bias, 1e-5);
#endif
  return at::layer_norm(x, {weight.size(0)}, weight, bias, 1e-5);
}

std::pair<at::Tensor, at::Tensor> LayerNormImpl::add_and_forward(const at::Tensor& x, const at::Tensor& y) {
#ifdef ZS_WITH_CUDA
  if (fused_layer_norm_applies(x, weight) &&
      (!y.defined() || (y.sizes() == x.sizes() && y.scalar_type() == x.scalar_type() && y.is_contiguous())))
    return add_layer_norm_fused(x, y, weight, bias, 1e-5);
#endif
  at::Tensor h = y.defined() ? x + y : x;
  return {h, forward(h)};
}

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const GPTConfig& config, c10::Device device)
    : n_head(config.n_head), n_embd(config.n_embd), dropout(config.dropout) {
  c_attn = register_module("c_attn", DeviceLinear(n_embd, 3 * n_embd, config.bias, device));
  c_proj = register_module("c_proj", DeviceLinear(n_embd, n_embd, config.bias, device));
}

at::Tensor CausalSelfAttentionImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  auto qkv = c_attn->forward(x).split(n_embd, /*dim=*/2);
  // [B, T, C] -> [B, n_head, T, head_size]
  auto heads = [&](const at::Tensor& t) { return t.view({B, T, n_head, C / n_head}).transpose(1, 2); };
  const double p = is_training() ? dropout : 0.0;
  auto y = causal_attention(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]), /*dropout_p=*/p, /*enable_gqa=*/false,
                            /*owner=*/this);
  y = y.transpose(1, 2).contiguous().view({B, T, C});
  return at::dropout(c_proj->forward(y), dropout, is_training());
}

MLPImpl::MLPImpl(const GPTConfig& config, c10::Device device)
    : dropout(config.dropout), gelu_approximate(config.activation == "gelu_tanh" ? "tanh" : "none") {
  const int64_t C = config.n_embd;
  c_fc = register_module("c_fc", DeviceLinear(C, 4 * C, config.bias, device));
  c_proj = register_module("c_proj", DeviceLinear(4 * C, C, config.bias, device));
}

at::Tensor MLPImpl::forward(const at::Tensor& x) {
  return at::dropout(c_proj->forward(activation(c_fc->forward(x), gelu_approximate)), dropout, is_training());
}

at::Tensor MLPImpl::forward_unevaluated(const at::Tensor& x) {
  // Dropout's mask is drawn from the random state, not the values, so it still matches the forward's.
  return at::dropout(c_proj->forward_unevaluated(activation(c_fc->forward(x), gelu_approximate)), dropout,
                     is_training());
}

BlockImpl::BlockImpl(const GPTConfig& config, c10::Device device) {
  ln_1 = register_module("ln_1", LayerNorm(config.n_embd, config.bias, device));
  attn = register_module("attn", CausalSelfAttention(config, device));
  ln_2 = register_module("ln_2", LayerNorm(config.n_embd, config.bias, device));
  mlp = register_module("mlp", MLP(config, device));
}

at::Tensor BlockImpl::forward(const at::Tensor& x) {
  // x's two gradients, the residual stream's and ln_1's, meet inside ln_1's backward.
  auto [residual, normed_1] = ln_1->add_and_forward(x, at::Tensor());
  auto [h, normed] = ln_2->add_and_forward(residual, attn->forward(normed_1));  // h = x + attn(ln_1(x))
  // Recomputed for backward under activation checkpointing, the block's result is differentiated
  // but never read: the MLP's output projection and the residual add skip their arithmetic then.
  if (result_is_unread(*this)) return sum_unevaluated(h, mlp->forward_unevaluated(normed));
  return h + mlp->forward(normed);
}

}  // namespace zs
