#include "zs/models/gpt/gpt.hpp"

#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/core/Reduction.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/multinomial.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/topk.h>
#include <ATen/ops/where.h>
#include <c10/core/GradMode.h>
#include <torch/nn/init.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "zs/base/strings.hpp"
#include "zs/models/cross_entropy.hpp"
#include "zs/models/param_init.hpp"

namespace zs {

namespace {
// The residual projections (c_proj.weight) start smaller, so that the residual stream's variance
// does not grow with depth.
double residual_std(const GPTConfig& config) { return 0.02 / std::sqrt(2.0 * static_cast<double>(config.n_layer)); }
}  // namespace

GPTTransformerImpl::GPTTransformerImpl(const GPTConfig& config, c10::Device device) {
  wte = register_module("wte", DeviceEmbedding(config.vocab_size, config.n_embd, device));
  wpe = register_module("wpe", DeviceEmbedding(config.block_size, config.n_embd, device));
  h = register_module("h", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.n_layer; ++i) h->push_back(Block(config, device));
  ln_f = register_module("ln_f", LayerNorm(config.n_embd, config.bias, device));
}

GPTImpl::GPTImpl(const GPTConfig& config, c10::Device device) : config_(config) {
  config_.validate();
  if (!device.is_cpu()) init_seed_ = draw_init_seed();
  transformer = register_module("transformer", GPTTransformer(config_, device));
  if (device.is_cpu()) {
    init_in_sequence();
  } else if (!device.is_meta()) {
    for (const auto& item : named_parameters(/*recurse=*/true)) init_parameter(item.key(), item.value());
  }
}

void GPTImpl::init_in_sequence() {
  c10::NoGradGuard no_grad;
  // The layers were torch::nn::Linear and torch::nn::Embedding, whose constructors drew default
  // values (overwritten below) from the default generator. The same draws, in the same order,
  // keep every seeded host model's values, which references and checkpoints were made with.
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<DeviceLinear>()) {
      torch::nn::init::kaiming_uniform_(linear->weight, std::sqrt(5.0));
      if (linear->bias.defined()) {
        const double bound = 1.0 / std::sqrt(static_cast<double>(linear->weight.size(1)));
        torch::nn::init::uniform_(linear->bias, -bound, bound);
      }
    } else if (auto* embedding = module->as<DeviceEmbedding>()) {
      torch::nn::init::normal_(embedding->weight);
    }
  }
  // nanoGPT's initialisation, module by module.
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<DeviceLinear>()) {
      linear->weight.normal_(0.0, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* embedding = module->as<DeviceEmbedding>()) {
      embedding->weight.normal_(0.0, 0.02);
    } else if (auto* norm = module->as<LayerNorm>()) {
      norm->weight.fill_(1.0);
      if (norm->bias.defined()) norm->bias.zero_();
    }
  }
  for (auto& item : named_parameters()) {
    if (ends_with(item.key(), "c_proj.weight")) item.value().normal_(0.0, residual_std(config_));
  }
}

void GPTImpl::init_parameter(const std::string& name, at::Tensor value) const {
  const auto parameters = named_parameters(/*recurse=*/true);  // find() points into it: keep it alive
  const at::Tensor* param = parameters.find(name);
  if (!param) throw std::invalid_argument("GPT::init_parameter: the model has no parameter " + name);
  if (value.sizes() != param->sizes())
    throw std::invalid_argument("GPT::init_parameter: " + name + " has shape " + c10::str(param->sizes()) + ", got " +
                                c10::str(value.sizes()));
  if (value.is_meta()) return;
  c10::NoGradGuard no_grad;
  if (ends_with(name, ".bias")) {
    value.zero_();
  } else if (param->dim() == 1) {  // the only vectors besides biases: LayerNorm weights
    value.fill_(1.0);
  } else {
    // Linear and Embedding weights; the residual projections scaled down as in the CPU constructor.
    const double sigma = ends_with(name, "c_proj.weight") ? residual_std(config_) : 0.02;
    value.normal_(0.0, sigma, seeded_generator(value.device(), parameter_seed(init_seed_, name)));
  }
}

GPTOutput GPTImpl::forward(const at::Tensor& idx, const std::optional<at::Tensor>& targets) {
  if (idx.dim() != 2) throw std::invalid_argument("GPT::forward: idx must be [B, T], got " + std::to_string(idx.dim()) + " dims");
  const int64_t T = idx.size(1);
  if (T > config_.block_size)
    throw std::invalid_argument("GPT::forward: sequence length " + std::to_string(T) +
                                " exceeds block_size " + std::to_string(config_.block_size));
  // Positions 0..T-1 are the table's first T rows: a slice, whose backward is a copy where an
  // embedding lookup's would sort the positions first.
  auto x = transformer->wte->forward(idx) + transformer->wpe->weight.narrow(0, 0, T);
  x = at::dropout(x, config_.dropout, is_training());
  for (const auto& block : *transformer->h) x = block->as<Block>()->forward(x);
  x = transformer->ln_f->forward(x);

  const auto& head_weight = transformer->wte->weight;  // tied LM head
  GPTOutput out;
  if (targets.has_value() && targets->defined()) {
    out.logits = at::linear(x, head_weight);
    out.loss = token_cross_entropy(out.logits, *targets, /*ignore_index=*/-1);
  } else {
    out.logits = at::linear(x.slice(/*dim=*/1, T - 1, T), head_weight);
  }
  return out;
}

at::Tensor GPTImpl::loss(const at::Tensor& idx, const at::Tensor& targets) { return forward(idx, targets).loss; }

int64_t GPTImpl::num_params(bool exclude_embeddings) const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  if (exclude_embeddings) n -= transformer->wpe->weight.numel();
  return n;
}

double GPTImpl::flops_per_token(int64_t T) const {
  const double N = static_cast<double>(num_params(/*exclude_embeddings=*/false));
  return 6.0 * N + 12.0 * static_cast<double>(config_.n_layer) * static_cast<double>(config_.n_embd) *
                       static_cast<double>(T);
}

at::Tensor GPTImpl::generate(at::Tensor idx, int64_t max_new_tokens, double temperature, int64_t top_k,
                             std::optional<at::Generator> generator) {
  if (temperature <= 0.0) throw std::invalid_argument("GPT::generate: temperature must be positive");
  c10::NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();
  for (int64_t i = 0; i < max_new_tokens; ++i) {
    const int64_t T = idx.size(1);
    auto context = T > config_.block_size ? idx.slice(1, T - config_.block_size, T) : idx;
    auto logits = forward(context).logits.select(1, 0).to(at::kFloat) / temperature;  // [B, V]
    if (top_k > 0 && top_k < logits.size(-1)) {
      auto kth = std::get<0>(at::topk(logits, top_k, /*dim=*/-1)).slice(1, top_k - 1, top_k);
      logits = at::where(logits < kth, at::full_like(logits, -std::numeric_limits<float>::infinity()), logits);
    }
    auto probs = at::softmax(logits, /*dim=*/-1);
    auto next = at::multinomial(probs, /*num_samples=*/1, /*replacement=*/false, generator);
    idx = at::cat({idx, next}, /*dim=*/1);
  }
  train(was_training);
  return idx;
}

}  // namespace zs
