// The Llama model on its own: Hugging Face's parameter names and counts (the presets' real
// sizes), a meta-device build that takes no memory, per-parameter initialisation independent of
// order and grouping, rotary frequencies (llama3 scaling), grouped-query attention equal to
// multi-head attention with repeated key/value heads, causality, both loss conventions, learning.
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/repeat_interleave.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <set>

#include "support/error_of.hpp"
#include "support/time_scale.hpp"
#include "zs/models/llama/llama.hpp"
#include "zs/models/llama/llama_rope.hpp"
#include "zs/monitor/memory.hpp"

namespace test_llama {

namespace {

zs::LlamaConfig tiny() {
  zs::LlamaConfig c;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  return c;
}

using zs::testing::error_of;

}  // namespace

TEST(Llama, ParameterNamesAndCountsAreHuggingFaces) {
  zs::LlamaConfig c = tiny();
  c.attention_bias = true;
  zs::Llama model(c);
  std::set<std::string> names;
  for (const auto& p : model->named_parameters()) names.insert(p.key());
  for (const char* n : {"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
                        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.bias",
                        "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.bias",
                        "model.layers.0.self_attn.o_proj.weight", "model.layers.1.post_attention_layernorm.weight",
                        "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight",
                        "model.layers.1.mlp.down_proj.weight", "model.norm.weight", "lm_head.weight"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_FALSE(names.count("model.layers.0.mlp.up_proj.bias"));   // mlp_bias off
  EXPECT_EQ(names.size(), 3u + 2u * 13u);
  EXPECT_EQ(model->num_params(), c.num_parameters());
  EXPECT_EQ(model->named_parameters()["model.layers.0.self_attn.k_proj.weight"].sizes(), (std::vector<int64_t>{16, 32}));

  c.tie_word_embeddings = true;
  c.attention_bias = false;
  c.mlp_bias = true;
  zs::Llama tied(c);
  EXPECT_FALSE(tied->lm_head);
  EXPECT_EQ(tied->named_parameters().find("lm_head.weight"), nullptr);
  EXPECT_NE(tied->named_parameters().find("model.layers.1.mlp.down_proj.bias"), nullptr);
  EXPECT_EQ(tied->num_params(), c.num_parameters());
}

TEST(Llama, PresetsHaveTheCheckpointsSizes) {
  // The parameter counts of the Hugging Face checkpoints these shapes are from.
  EXPECT_EQ(zs::LlamaConfig::preset("llama2-7b").num_parameters(), 6738415616);
  EXPECT_EQ(zs::LlamaConfig::preset("llama3-8b").num_parameters(), 8030261248);
  EXPECT_EQ(zs::LlamaConfig::preset("Llama3.1-8B").num_parameters(), 8030261248);
  EXPECT_EQ(zs::LlamaConfig::preset("llama3.2-1b").num_parameters(), 1235814400);
  EXPECT_EQ(zs::LlamaConfig::preset("tinyllama-1.1b").num_parameters(), 1100048384);
  EXPECT_NE(error_of([] { zs::LlamaConfig::preset("llama9"); }).find("tinyllama-1.1b"), std::string::npos);
}

// A 7B model on the meta device: built in well under a second, no memory taken, no values.
TEST(Llama, MetaDeviceModelTakesNoMemory) {
  const int64_t rss_before = zs::device_memory(c10::Device(c10::kCPU)).allocated;
  const auto start = std::chrono::steady_clock::now();
  zs::Llama model(zs::LlamaConfig::llama2_7b(), c10::Device(c10::kMeta));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t grown = zs::device_memory(c10::Device(c10::kCPU)).allocated - rss_before;
  std::printf("[llama] llama2-7b on meta: %.3f s, %.1f MiB\n", seconds, grown / 1048576.0);
  EXPECT_EQ(model->num_params(), 6738415616);
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.is_meta());
  EXPECT_LT(seconds, zs::testing::time_limit(2.0));
  EXPECT_LT(grown, int64_t(64) << 20);
  EXPECT_DOUBLE_EQ(model->flops_per_token(2048), 6.0 * 6738415616.0 + 12.0 * 32 * 4096 * 2048);
}

// init_parameter gives each parameter the value the whole-model initialisation gives it, whatever
// the order, on a meta-built model too (what an engine materialising unit by unit relies on).
TEST(Llama, InitParameterIsPerParameterAndOrderFree) {
  zs::LlamaConfig c = tiny();
  c.hidden_size = 64;
  c.attention_bias = true;
  c.initializer_range = 0.05;
  torch::manual_seed(7);
  zs::Llama whole(c);
  torch::manual_seed(7);
  zs::Llama meta(c, c10::Device(c10::kMeta));
  EXPECT_EQ(meta->init_seed(), whole->init_seed());
  auto params = meta->named_parameters();
  for (auto it = params.items().rbegin(); it != params.items().rend(); ++it) {
    at::Tensor value = at::empty(it->value().sizes());
    meta->init_parameter(it->key(), value);
    EXPECT_TRUE(at::equal(value, whole->named_parameters()[it->key()])) << it->key();
  }
  const auto p = whole->named_parameters();
  EXPECT_TRUE(at::equal(p["model.norm.weight"], at::ones({64})));
  EXPECT_TRUE(at::equal(p["model.layers.1.self_attn.o_proj.bias"], at::zeros({64})));
  EXPECT_NEAR(p["model.layers.0.mlp.up_proj.weight"].std().item<double>(), 0.05, 0.005);
  EXPECT_FALSE(at::equal(p["model.layers.0.mlp.up_proj.weight"], p["model.layers.1.mlp.up_proj.weight"]));
  // Another seed, other weights.
  torch::manual_seed(8);
  zs::Llama other(c);
  EXPECT_FALSE(at::equal(other->named_parameters()["model.embed_tokens.weight"], p["model.embed_tokens.weight"]));
  // Names and shapes are checked.
  EXPECT_NE(error_of([&] { meta->init_parameter("model.nope.weight", at::empty({1})); }).find("model.nope.weight"),
            std::string::npos);
  EXPECT_NE(error_of([&] { meta->init_parameter("model.norm.weight", at::empty({3})); }).find("[64]"), std::string::npos);
}

TEST(Llama, RotaryFrequenciesWithLlama3Scaling) {
  zs::LlamaConfig c = tiny();
  c.hidden_size = 256;   // head_dim 64
  c.rope_theta = 500000.0;
  const at::Tensor plain = zs::rope_inverse_frequencies(c);
  ASSERT_EQ(plain.numel(), 32);
  for (int i = 0; i < 32; ++i)
    EXPECT_NEAR(plain[i].item<double>(), std::pow(500000.0, -2.0 * i / 64), 1e-6 * std::pow(500000.0, -2.0 * i / 64));
  c.rope_scaling.type = "llama3";
  c.rope_scaling.factor = 8;
  c.rope_scaling.low_freq_factor = 1;
  c.rope_scaling.high_freq_factor = 4;
  c.rope_scaling.original_max_position_embeddings = 8192;
  const at::Tensor scaled = zs::rope_inverse_frequencies(c);
  for (int i = 0; i < 32; ++i) {
    // Llama 3.1's rule in double precision.
    const double f = std::pow(500000.0, -2.0 * i / 64), wavelen = 2 * M_PI / f;
    double want = f;
    if (wavelen > 8192.0) {
      want = f / 8;
    } else if (wavelen >= 8192.0 / 4) {
      const double smooth = (8192.0 / wavelen - 1) / (4 - 1);
      want = (1 - smooth) * f / 8 + smooth * f;
    }
    EXPECT_NEAR(scaled[i].item<double>(), want, 1e-5 * want) << i;
  }
  EXPECT_FALSE(at::equal(plain, scaled));
  const zs::RopeTables tables = zs::rope_tables(c, 5, at::kBFloat16, c10::kCPU);
  EXPECT_EQ(tables.cos.sizes(), (std::vector<int64_t>{5, 64}));
  EXPECT_EQ(tables.cos.scalar_type(), at::kBFloat16);

  c.rope_scaling.type = "yarn";
  EXPECT_NE(error_of([&] { zs::Llama{c}; }).find("\"yarn\" is not supported"), std::string::npos);
  c = tiny();
  c.num_key_value_heads = 3;
  EXPECT_NE(error_of([&] { zs::Llama{c}; }).find("num_key_value_heads"), std::string::npos);
}

// Grouped-query attention: query head h uses key/value head h / (heads / kv_heads), exactly as
// multi-head attention with each key/value head's projection repeated.
TEST(Llama, GroupedQueryAttentionEqualsRepeatedHeads) {
  zs::LlamaConfig gqa = tiny();
  gqa.attention_bias = true;
  torch::manual_seed(3);
  zs::Llama grouped(gqa);
  zs::LlamaConfig mha = gqa;
  mha.num_key_value_heads = mha.num_attention_heads;
  zs::Llama full(mha);
  c10::NoGradGuard no_grad;
  const int64_t head_dim = gqa.resolved_head_dim(), rep = gqa.num_attention_heads / gqa.num_key_value_heads;
  const auto src = grouped->named_parameters();
  for (auto& item : full->named_parameters()) {
    const at::Tensor from = src[item.key()];
    const bool kv = item.key().find("k_proj") != std::string::npos || item.key().find("v_proj") != std::string::npos;
    if (!kv) {
      item.value().copy_(from);
      continue;
    }
    // [kv_heads * head_dim, ...] -> each head's rows repeated `rep` times, in place.
    std::vector<int64_t> shape = {gqa.num_key_value_heads, head_dim};
    for (int64_t d = 1; d < from.dim(); ++d) shape.push_back(from.size(d));
    item.value().copy_(at::repeat_interleave(from.reshape(shape), rep, 0).reshape(item.value().sizes()));
  }
  const at::Tensor ids = at::randint(0, gqa.vocab_size, {2, 9});
  EXPECT_TRUE(at::allclose(grouped->forward(ids).logits, full->forward(ids).logits, 1e-5, 1e-6));
}

TEST(Llama, CausalAndBothLossConventions) {
  torch::manual_seed(4);
  zs::Llama model(tiny());
  c10::NoGradGuard no_grad;
  at::Tensor ids = at::randint(0, 50, {2, 10});
  const at::Tensor logits = model->forward(ids).logits;
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 10, 50}));
  at::Tensor changed = ids.clone();
  changed.select(1, 9).fill_(int64_t(0));
  changed.select(1, 8).fill_(int64_t(1));
  EXPECT_TRUE(at::allclose(model->forward(changed).logits.slice(1, 0, 8), logits.slice(1, 0, 8)));

  // Hugging Face's labels (aligned, shifted inside) == our next-token targets (shifted outside).
  at::Tensor labels = ids.clone();
  labels.select(1, 4).fill_(zs::kLlamaIgnoreIndex);
  const at::Tensor targets = at::cat({labels.slice(1, 1), at::full({2, 1}, zs::kLlamaIgnoreIndex, labels.options())}, 1);
  const at::Tensor a = model->forward_with_labels(ids, labels).loss, b = model->loss(ids, targets);
  EXPECT_EQ(a.scalar_type(), at::kFloat);
  EXPECT_DOUBLE_EQ(a.item<double>(), b.item<double>());
  EXPECT_NEAR(a.item<double>(), std::log(50.0), 0.2);   // near uniform at initialisation

  model->to(at::kBFloat16);
  const zs::LlamaOutput half = model->forward(ids, targets);
  EXPECT_EQ(half.logits.scalar_type(), at::kBFloat16);
  EXPECT_EQ(half.loss.scalar_type(), at::kFloat);
}

TEST(Llama, Learns) {
  torch::manual_seed(5);
  zs::Llama model(tiny());
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(3e-3));
  const at::Tensor seq = at::arange(0, 17) % 7;   // a repeating pattern
  const at::Tensor x = seq.slice(0, 0, 16).unsqueeze(0), y = seq.slice(0, 1, 17).unsqueeze(0);
  double first = 0, last = 0;
  for (int i = 0; i < 40; ++i) {
    adam.zero_grad();
    at::Tensor loss = model->loss(x, y);
    loss.backward();
    adam.step();
    (i == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, 0.3 * first);
}

}  // namespace test_llama
