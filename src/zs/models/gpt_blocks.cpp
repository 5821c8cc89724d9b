#include "zs/models/gpt_blocks.hpp"

#include <ATen/ops/dropout.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <ATen/ops/zeros.h>

namespace zs {

namespace {
// ATen's linear, not the C++ frontend's Linear::forward: on [B, T, C] inputs the latter runs a
// matmul and then adds the bias in a separate broadcast kernel, where ATen folds the bias into the
// GEMM (about 8% of a GPT-2 1.5B step on an H200).
at::Tensor linear(const torch::nn::Linear& layer, const at::Tensor& x) { return at::linear(x, layer->weight, layer->bias); }
}  // namespace

LayerNormImpl::LayerNormImpl(int64_t n_embd, bool with_bias) {
  weight = register_parameter("weight", at::ones({n_embd}));
  if (with_bias) bias = register_parameter("bias", at::zeros({n_embd}));
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) {
  // An undefined bias tensor tells layer_norm there is none.
  return at::layer_norm(x, {weight.size(0)}, weight, bias, 1e-5);
}

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const GPTConfig& config)
    : n_head(config.n_head), n_embd(config.n_embd), dropout(config.dropout) {
  c_attn = register_module(
      "c_attn", torch::nn::Linear(torch::nn::LinearOptions(n_embd, 3 * n_embd).bias(config.bias)));
  c_proj = register_module(
      "c_proj", torch::nn::Linear(torch::nn::LinearOptions(n_embd, n_embd).bias(config.bias)));
}

at::Tensor CausalSelfAttentionImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  auto qkv = linear(c_attn, x).split(n_embd, /*dim=*/2);
  // [B, T, C] -> [B, n_head, T, head_size]
  auto heads = [&](const at::Tensor& t) { return t.view({B, T, n_head, C / n_head}).transpose(1, 2); };
  const double p = is_training() ? dropout : 0.0;
  auto y = at::scaled_dot_product_attention(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]), /*attn_mask=*/{},
                                            /*dropout_p=*/p, /*is_causal=*/true);
  y = y.transpose(1, 2).contiguous().view({B, T, C});
  return at::dropout(linear(c_proj, y), dropout, is_training());
}

MLPImpl::MLPImpl(const GPTConfig& config)
    : dropout(config.dropout), gelu_approximate(config.activation == "gelu_tanh" ? "tanh" : "none") {
  const int64_t C = config.n_embd;
  c_fc = register_module("c_fc", torch::nn::Linear(torch::nn::LinearOptions(C, 4 * C).bias(config.bias)));
  c_proj = register_module("c_proj", torch::nn::Linear(torch::nn::LinearOptions(4 * C, C).bias(config.bias)));
}

at::Tensor MLPImpl::forward(const at::Tensor& x) {
  return at::dropout(linear(c_proj, at::gelu(linear(c_fc, x), gelu_approximate)), dropout, is_training());
}

BlockImpl::BlockImpl(const GPTConfig& config) {
  ln_1 = register_module("ln_1", LayerNorm(config.n_embd, config.bias));
  attn = register_module("attn", CausalSelfAttention(config));
  ln_2 = register_module("ln_2", LayerNorm(config.n_embd, config.bias));
  mlp = register_module("mlp", MLP(config));
}

at::Tensor BlockImpl::forward(const at::Tensor& x) {
  auto h = x + attn->forward(ln_1->forward(x));
  return h + mlp->forward(ln_2->forward(h));
}

}  // namespace zs
