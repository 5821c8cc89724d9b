#include "zs/models/llama/llama.hpp"

#include <stdexcept>

#include <ATen/core/Reduction.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/linear.h>
#include <c10/core/GradMode.h>

#include "zs/base/strings.hpp"
#include "zs/models/cross_entropy.hpp"
#include "zs/models/llama/llama_rope.hpp"
#include "zs/models/param_init.hpp"

namespace zs {

LlamaModelImpl::LlamaModelImpl(const LlamaConfig& config, c10::Device device) : config_(config) {
  embed_tokens = register_module("embed_tokens", DeviceEmbedding(config.vocab_size, config.hidden_size, device));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) layers->push_back(LlamaDecoderLayer(config, device));
  norm = register_module("norm", LlamaRMSNorm(config.hidden_size, config.rms_norm_eps, device));
}

at::Tensor LlamaModelImpl::forward(const at::Tensor& input_ids) {
  if (input_ids.dim() != 2)
    throw std::invalid_argument("Llama: input_ids must be [B, T], got " + std::to_string(input_ids.dim()) + " dims");
  at::Tensor h = embed_tokens->forward(input_ids);
  // The rotary tables once for every layer, in the activations' dtype.
  const RopeTables rope = rope_tables(config_, input_ids.size(1), h.scalar_type(), h.device());
  for (const auto& layer : *layers) h = layer->as<LlamaDecoderLayer>()->forward(h, rope.cos, rope.sin);
  return norm->forward(h);
}

LlamaImpl::LlamaImpl(const LlamaConfig& config, c10::Device device) : config_(config) {
  config_.validate();
  init_seed_ = draw_init_seed();
  model = register_module("model", LlamaModel(config_, device));
  if (!config_.tie_word_embeddings)
    lm_head = register_module("lm_head", DeviceLinear(config_.hidden_size, config_.vocab_size, /*bias=*/false, device));
  if (device.type() != c10::kMeta) reset_parameters();
}

void LlamaImpl::init_parameter(const std::string& name, at::Tensor value) const {
  const auto parameters = named_parameters(/*recurse=*/true);  // find() points into it: keep it alive
  const at::Tensor* param = parameters.find(name);
  if (!param) throw std::invalid_argument("Llama::init_parameter: the model has no parameter " + name);
  if (value.sizes() != param->sizes())
    throw std::invalid_argument("Llama::init_parameter: " + name + " has shape " + c10::str(param->sizes()) + ", got " +
                                c10::str(value.sizes()));
  if (value.is_meta()) return;
  c10::NoGradGuard no_grad;
  if (ends_with(name, "norm.weight")) {
    value.fill_(1.0);
  } else if (ends_with(name, ".bias")) {
    value.zero_();
  } else {
    value.normal_(0.0, config_.initializer_range, seeded_generator(value.device(), parameter_seed(init_seed_, name)));
  }
}

void LlamaImpl::reset_parameters() {
  for (const auto& item : named_parameters(/*recurse=*/true)) init_parameter(item.key(), item.value());
}

LlamaOutput LlamaImpl::forward(const at::Tensor& input_ids, const std::optional<at::Tensor>& targets) {
  const at::Tensor h = model->forward(input_ids);
  LlamaOutput out;
  out.logits = lm_head ? lm_head->forward(h) : at::linear(h, model->embed_tokens->weight);
  if (targets.has_value() && targets->defined()) {
    if (targets->sizes() != input_ids.sizes())
      throw std::invalid_argument("Llama: targets must have the inputs' shape " + c10::str(input_ids.sizes()) + ", got " +
                                  c10::str(targets->sizes()));
    out.loss = token_cross_entropy(out.logits, *targets, kLlamaIgnoreIndex);
  }
  return out;
}

LlamaOutput LlamaImpl::forward_with_labels(const at::Tensor& input_ids, const at::Tensor& labels) {
  if (labels.dim() != 2) throw std::invalid_argument("Llama: labels must be [B, T]");
  // Position t predicts labels[t + 1]; the last position predicts nothing.
  const at::Tensor targets =
      at::cat({labels.slice(1, 1), at::full({labels.size(0), 1}, kLlamaIgnoreIndex, labels.options())}, /*dim=*/1);
  return forward(input_ids, targets);
}

at::Tensor LlamaImpl::loss(const at::Tensor& input_ids, const at::Tensor& targets) { return forward(input_ids, targets).loss; }

int64_t LlamaImpl::num_params() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

double LlamaImpl::flops_per_token(int64_t T) const {
  const double attention = 12.0 * double(config_.num_hidden_layers) *
                           double(config_.num_attention_heads * config_.resolved_head_dim()) * double(T);
  return 6.0 * double(num_params()) + attention;
}

}  // namespace zs
