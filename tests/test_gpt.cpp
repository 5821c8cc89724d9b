// GPT-2 model: shapes, parameter names and counts, initial loss, causality, bf16, that it learns,
// and the model built on the meta device with its per-parameter initialisation.
#include <ATen/ops/abs.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "support/error_of.hpp"
#include "zs/models/gpt/gpt.hpp"
#include "zs/monitor/memory.hpp"

namespace test_gpt {

using zs::testing::error_of;

namespace {

zs::GPTConfig tiny_config() {
  zs::GPTConfig c;
  c.block_size = 16;
  c.vocab_size = 32;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 32;
  return c;
}

// Parameter count of a GPT from its shapes (weights + optional biases).
int64_t expected_params(const zs::GPTConfig& c) {
  const int64_t d = c.n_embd, b = c.bias ? 1 : 0;
  const int64_t ln = d + b * d;
  const int64_t block = ln + (d * 3 * d + b * 3 * d) + (d * d + b * d) + ln + (d * 4 * d + b * 4 * d) +
                        (4 * d * d + b * d);
  return c.vocab_size * d + c.block_size * d + c.n_layer * block + ln;
}

}  // namespace

TEST(GPT, ParameterNamesFollowNanoGPT) {
  zs::GPT model(tiny_config());
  std::set<std::string> names;
  for (const auto& p : model->named_parameters()) names.insert(p.key());
  for (const char* n : {"transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight",
                        "transformer.h.0.ln_1.bias", "transformer.h.0.attn.c_attn.weight",
                        "transformer.h.0.attn.c_attn.bias", "transformer.h.0.attn.c_proj.weight",
                        "transformer.h.1.ln_2.weight", "transformer.h.1.mlp.c_fc.weight",
                        "transformer.h.1.mlp.c_proj.bias", "transformer.ln_f.weight", "transformer.ln_f.bias"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  // Tied head: no lm_head parameter.
  for (const auto& n : names) EXPECT_EQ(n.find("lm_head"), std::string::npos) << n;
  EXPECT_EQ(names.size(), 4u + 2u * 12u);
}

TEST(GPT, Gpt2SmallParameterCount) {
  const auto config = zs::GPTConfig::gpt2_124m();
  zs::GPT model(config);
  EXPECT_EQ(expected_params(config), 124475904);
  EXPECT_EQ(model->num_params(/*exclude_embeddings=*/false), 124475904);
  EXPECT_EQ(model->num_params(), 124475904 - 1024 * 768);  // nanoGPT's "123.69M"
  const double N = 124475904.0;
  EXPECT_DOUBLE_EQ(model->flops_per_token(1024), 6.0 * N + 12.0 * 12 * 768 * 1024);
}

TEST(GPT, PresetsHaveTheirShapes) {
  EXPECT_EQ(zs::GPTConfig::gpt2_350m().n_layer, 24);
  EXPECT_EQ(zs::GPTConfig::gpt2_350m().n_embd, 1024);
  EXPECT_EQ(zs::GPTConfig::gpt2_774m().n_head, 20);
  EXPECT_EQ(zs::GPTConfig::gpt2_1_5b().n_layer, 48);
  EXPECT_EQ(zs::GPTConfig::gpt2_1_5b().n_head, 25);
  EXPECT_EQ(zs::GPTConfig::gpt2_1_5b().n_embd, 1600);
  EXPECT_EQ(zs::GPTConfig::preset("gpt2-medium").n_layer, 24);
  EXPECT_THROW(zs::GPTConfig::preset("gpt5"), std::invalid_argument);
  auto bad = tiny_config();
  bad.n_embd = 33;
  EXPECT_THROW(zs::GPT{bad}, std::invalid_argument);
}

TEST(GPT, InitialisationFollowsNanoGPTAndIsReproducible) {
  auto config = tiny_config();
  config.n_embd = 128;
  config.vocab_size = 256;
  torch::manual_seed(7);
  zs::GPT a(config);
  torch::manual_seed(7);
  zs::GPT b(config);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& item : pa) EXPECT_TRUE(at::equal(item.value(), pb[item.key()])) << item.key();

  const double residual_std = 0.02 / std::sqrt(2.0 * config.n_layer);
  EXPECT_NEAR(pa["transformer.h.0.attn.c_proj.weight"].std().item<double>(), residual_std, residual_std * 0.1);
  EXPECT_NEAR(pa["transformer.h.1.mlp.c_proj.weight"].std().item<double>(), residual_std, residual_std * 0.1);
  EXPECT_NEAR(pa["transformer.h.0.mlp.c_fc.weight"].std().item<double>(), 0.02, 0.002);
  EXPECT_NEAR(pa["transformer.wte.weight"].std().item<double>(), 0.02, 0.002);
  EXPECT_EQ(pa["transformer.h.0.attn.c_attn.bias"].abs().max().item<double>(), 0.0);
  EXPECT_EQ(pa["transformer.ln_f.weight"].min().item<double>(), 1.0);
}

TEST(GPT, ShapesAndInitialLoss) {
  torch::manual_seed(0);
  auto config = tiny_config();
  config.vocab_size = 64;
  zs::GPT model(config);
  auto idx = at::randint(config.vocab_size, {3, 16}, at::kLong);
  // Targets independent of the inputs (with targets == inputs the tied embedding already helps).
  auto targets = at::randint(config.vocab_size, {3, 16}, at::kLong);
  auto out = model->forward(idx, targets);
  EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{3, 16, 64}));
  EXPECT_EQ(out.loss.dim(), 0);
  EXPECT_EQ(out.loss.scalar_type(), at::kFloat);
  // Small init -> near-uniform predictions -> loss close to ln(vocab).
  EXPECT_NEAR(out.loss.item<double>(), std::log(64.0), 0.1);

  auto last = model->forward(idx);
  EXPECT_EQ(last.logits.sizes(), (at::IntArrayRef{3, 1, 64}));
  EXPECT_FALSE(last.loss.defined());
  EXPECT_TRUE(at::allclose(last.logits.select(1, 0), out.logits.select(1, 15), 1e-5, 1e-5));

  EXPECT_THROW(model->forward(at::randint(64, {1, 17}, at::kLong)), std::invalid_argument);
}

TEST(GPT, IgnoreIndexSkipsTargets) {
  torch::manual_seed(0);
  zs::GPT model(tiny_config());
  auto idx = at::randint(32, {2, 8}, at::kLong);
  auto targets = idx.clone();
  targets.slice(1, 4, 8).fill_(-1);
  auto loss_masked = model->forward(idx, targets).loss;
  // Same as the loss over the first 4 positions only.
  auto loss_prefix = model->forward(idx.slice(1, 0, 4), idx.slice(1, 0, 4)).loss;
  EXPECT_NEAR(loss_masked.item<double>(), loss_prefix.item<double>(), 1e-5);
}

TEST(GPT, IsCausal) {
  torch::manual_seed(1);
  zs::GPT model(tiny_config());
  model->eval();
  auto idx = at::randint(32, {1, 12}, at::kLong);
  auto changed = idx.clone();
  changed[0][8] = (idx[0][8].item<int64_t>() + 1) % 32;
  auto a = model->forward(idx, idx).logits;
  auto b = model->forward(changed, changed).logits;
  EXPECT_TRUE(at::equal(a.slice(1, 0, 8), b.slice(1, 0, 8)));
  EXPECT_FALSE(at::allclose(a.slice(1, 8, 12), b.slice(1, 8, 12)));
}

TEST(GPT, NoBiasMeansNoBiasParameters) {
  auto config = tiny_config();
  config.bias = false;
  zs::GPT model(config);
  for (const auto& p : model->named_parameters())
    EXPECT_EQ(p.key().find("bias"), std::string::npos) << p.key();
  EXPECT_EQ(model->num_params(false), expected_params(config));
  auto idx = at::randint(32, {2, 8}, at::kLong);
  EXPECT_TRUE(std::isfinite(model->forward(idx, idx).loss.item<double>()));
}

TEST(GPT, Bf16ForwardBackward) {
  torch::manual_seed(2);
  zs::GPT model(tiny_config());
  model->to(at::kBFloat16);
  auto idx = at::randint(32, {2, 16}, at::kLong);
  auto out = model->forward(idx, at::randint(32, {2, 16}, at::kLong));
  EXPECT_EQ(out.logits.scalar_type(), at::kBFloat16);
  EXPECT_EQ(out.loss.scalar_type(), at::kFloat);
  EXPECT_NEAR(out.loss.item<double>(), std::log(32.0), 0.2);
  out.loss.backward();
  auto grad = model->transformer->wte->weight.grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_EQ(grad.scalar_type(), at::kBFloat16);
}

TEST(GPT, DropoutOnlyWhileTraining) {
  auto config = tiny_config();
  config.dropout = 0.5;
  torch::manual_seed(3);
  zs::GPT model(config);
  auto idx = at::randint(32, {2, 16}, at::kLong);
  model->eval();
  EXPECT_TRUE(at::equal(model->forward(idx, idx).logits, model->forward(idx, idx).logits));
  model->train();
  EXPECT_FALSE(at::equal(model->forward(idx, idx).logits, model->forward(idx, idx).logits));
}

TEST(GPT, OverfitsOneBatch) {
  torch::manual_seed(4);
  auto config = tiny_config();
  config.n_embd = 64;
  zs::GPT model(config);
  auto idx = at::randint(config.vocab_size, {4, 17}, at::kLong);
  auto x = idx.slice(1, 0, 16), y = idx.slice(1, 1, 17);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3));
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    auto loss = model->loss(x, y);
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_GT(first, 3.0);
  EXPECT_LT(last, 0.1);
}

TEST(GPT, GenerateAppendsTokensAndCropsContext) {
  torch::manual_seed(5);
  zs::GPT model(tiny_config());
  model->train();
  auto idx = at::randint(32, {2, 10}, at::kLong);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(123);
  auto a = model->generate(idx, 20, 0.8, 5, gen);  // 30 tokens > block_size 16: context is cropped
  EXPECT_EQ(a.sizes(), (at::IntArrayRef{2, 30}));
  EXPECT_TRUE(at::equal(a.slice(1, 0, 10), idx));
  EXPECT_GE(a.min().item<int64_t>(), 0);
  EXPECT_LT(a.max().item<int64_t>(), 32);
  EXPECT_TRUE(model->is_training());  // flag restored
  auto b = model->generate(idx, 20, 0.8, 5, at::make_generator<at::CPUGeneratorImpl>(123));
  EXPECT_TRUE(at::equal(a, b));
  // top_k = 1 is greedy decoding: deterministic whatever the generator.
  auto g1 = model->generate(idx, 5, 1.0, 1, at::make_generator<at::CPUGeneratorImpl>(1));
  auto g2 = model->generate(idx, 5, 1.0, 1, at::make_generator<at::CPUGeneratorImpl>(2));
  EXPECT_TRUE(at::equal(g1, g2));
}

// GPT-2 1.5B on the meta device: every parameter, no memory, in a moment (an engine makes it on the
// GPUs one block at a time).
TEST(GPT, MetaDeviceModelTakesNoMemory) {
  const int64_t before = zs::device_memory(c10::Device(c10::kCPU)).allocated;
  const auto start = std::chrono::steady_clock::now();
  zs::GPT model(zs::GPTConfig::gpt2_1_5b(), c10::Device(c10::kMeta));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t grown = zs::device_memory(c10::Device(c10::kCPU)).allocated - before;
  std::printf("[gpt] gpt2-1.5b on meta: %.3f s, %.1f MiB\n", seconds, grown / 1048576.0);
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.is_meta());
  EXPECT_EQ(model->num_params(/*exclude_embeddings=*/false), expected_params(zs::GPTConfig::gpt2_1_5b()));
  EXPECT_LT(seconds, 2.0);
  EXPECT_LT(grown, int64_t(64) << 20);
}

// The same names, shapes and order on any device, with or without biases (checkpoints, Hugging
// Face export and the engine's units see the same module).
TEST(GPT, MetaModelHasTheHostModelsParameters) {
  for (bool bias : {true, false}) {
    auto config = tiny_config();
    config.bias = bias;
    zs::GPT host(config);
    zs::GPT meta(config, c10::Device(c10::kMeta));
    const auto a = host->named_parameters(), b = meta->named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].key(), b[i].key());
      EXPECT_EQ(a[i].value().sizes(), b[i].value().sizes()) << a[i].key();
      EXPECT_TRUE(b[i].value().requires_grad()) << b[i].key();
    }
    EXPECT_EQ(host->named_modules().size(), meta->named_modules().size());
  }
}

// init_parameter: per parameter and order-free (what an engine materialising block by block relies
// on), nanoGPT's distribution (the host constructor's), and checked names and shapes.
TEST(GPT, InitParameterIsPerParameterOrderFreeAndNanoGPTs) {
  auto config = tiny_config();
  config.n_embd = 128;
  config.vocab_size = 256;
  torch::manual_seed(7);
  zs::GPT meta(config, c10::Device(c10::kMeta));
  torch::manual_seed(7);
  zs::GPT again(config, c10::Device(c10::kMeta));
  EXPECT_EQ(meta->init_seed(), again->init_seed());
  torch::manual_seed(7);
  zs::GPT host(config);
  const auto host_params = host->named_parameters();
  std::map<std::string, at::Tensor> forward_order;
  for (const auto& item : meta->named_parameters()) {
    at::Tensor value = at::empty(item.value().sizes());
    meta->init_parameter(item.key(), value);
    forward_order[item.key()] = value;
  }
  auto params = again->named_parameters();
  for (auto it = params.items().rbegin(); it != params.items().rend(); ++it) {
    at::Tensor value = at::empty(it->value().sizes());
    again->init_parameter(it->key(), value);
    EXPECT_TRUE(at::equal(value, forward_order[it->key()])) << it->key();
    // The host-built model's distribution: the same exact values for norms and biases, the same
    // spread for the random matrices.
    const at::Tensor& h = host_params[it->key()];
    if (h.dim() == 1) {
      EXPECT_TRUE(at::equal(value, h)) << it->key();
    } else {
      EXPECT_NEAR(value.std().item<double>(), h.std().item<double>(), 0.1 * h.std().item<double>()) << it->key();
      EXPECT_NEAR(value.mean().item<double>(), 0.0, 0.002) << it->key();
    }
  }
  const double residual_std = 0.02 / std::sqrt(2.0 * config.n_layer);
  EXPECT_NEAR(forward_order["transformer.h.1.attn.c_proj.weight"].std().item<double>(), residual_std, residual_std * 0.1);
  EXPECT_NEAR(forward_order["transformer.h.0.mlp.c_fc.weight"].std().item<double>(), 0.02, 0.002);
  EXPECT_TRUE(at::equal(forward_order["transformer.ln_f.weight"], at::ones({128})));
  EXPECT_TRUE(at::equal(forward_order["transformer.h.0.attn.c_attn.bias"], at::zeros({384})));
  EXPECT_FALSE(at::equal(forward_order["transformer.h.0.mlp.c_fc.weight"], forward_order["transformer.h.1.mlp.c_fc.weight"]));
  // A bf16 value (the engine's parameter dtype) gets the same distribution.
  at::Tensor bf16 = at::empty({256, 128}, at::kBFloat16);
  meta->init_parameter("transformer.wte.weight", bf16);
  EXPECT_NEAR(bf16.to(at::kFloat).std().item<double>(), 0.02, 0.002);
  // Another seed, other weights.
  torch::manual_seed(8);
  zs::GPT other(config, c10::Device(c10::kMeta));
  at::Tensor wte = at::empty({256, 128});
  other->init_parameter("transformer.wte.weight", wte);
  EXPECT_FALSE(at::equal(wte, forward_order["transformer.wte.weight"]));
  // Names and shapes are checked.
  EXPECT_NE(error_of([&] { meta->init_parameter("transformer.nope.weight", at::empty({1})); }).find("transformer.nope.weight"),
            std::string::npos);
  EXPECT_NE(error_of([&] { meta->init_parameter("transformer.ln_f.weight", at::empty({3})); }).find("[128]"), std::string::npos);
}

}  // namespace test_gpt
