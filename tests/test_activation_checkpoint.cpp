// Activation checkpointing: the recomputed backward gives the plain backward's gradients, also
// with dropout (the forward's random state is replayed), and keeps no activations of the unit.
#include <gtest/gtest.h>

#include <ATen/ops/dropout.h>
#include <torch/csrc/autograd/function.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include "zs/config/config.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/models/attention.hpp"
#include "zs/models/device_layers.hpp"
#include "zs/models/gpt/gpt.hpp"
#include "zs/zero/activation_checkpoint.hpp"

namespace test_activation_checkpoint {

namespace {

struct Net {
  torch::nn::Linear a{16, 32}, b{32, 16};
  at::Tensor operator()(const at::Tensor& x) {
    return b->forward(at::dropout(at::gelu(a->forward(x)), 0.3, /*train=*/true));
  }
};

TEST(ActivationCheckpoint, RecomputesInBackwardWithTheSameGradients) {
  torch::manual_seed(0);
  Net net;
  at::Tensor x = at::randn({8, 16}).requires_grad_(true);

  torch::manual_seed(7);
  net(x).pow(2).sum().backward();
  const at::Tensor plain_wa = net.a->weight.grad().clone(), plain_x = x.grad().clone();
  net.a->weight.mutable_grad().reset();
  net.b->weight.mutable_grad().reset();
  x.mutable_grad().reset();

  torch::manual_seed(7);
  int calls = 0;
  at::Tensor y = zs::checkpointed([&](const at::Tensor& in) { ++calls; return net(in); }, x);
  EXPECT_EQ(y.grad_fn()->name(), "zs::CheckpointBackward");  // nothing of net's graph was kept
  EXPECT_EQ(calls, 1);
  y.pow(2).sum().backward();
  EXPECT_EQ(calls, 2);  // recomputed once, in backward
  EXPECT_TRUE(at::equal(net.a->weight.grad(), plain_wa));
  EXPECT_TRUE(at::equal(x.grad(), plain_x));
}

// A residual unit that ends as the GPT and Llama layers do: recomputed for its own checkpoint, its
// result is unread, so the projection and the add leave out their values (on the CPU the
// projection still computes; the add does not). It notes what result_is_unread said each call.
struct ResidualImpl : torch::nn::Module {
  zs::DeviceLinear proj{nullptr};
  std::vector<bool> unread;
  ResidualImpl() {
    proj = register_module("proj", zs::DeviceLinear(8, 8, /*bias=*/true, c10::Device(c10::kCPU)));
    torch::NoGradGuard no_grad;
    proj->weight.normal_(0, 0.3);
    proj->bias.normal_(0, 0.3);
  }
  at::Tensor forward(const at::Tensor& x) {
    unread.push_back(zs::result_is_unread(*this));
    const at::Tensor h = at::tanh(x);
    if (unread.back()) return zs::sum_unevaluated(h, proj->forward_unevaluated(h));
    return h + proj->forward(h);
  }
};
ZS_UNIT_MODULE(Residual);

TEST(ActivationCheckpoint, AUnitLeavesItsUnreadResultOutOfTheRecompute) {
  torch::manual_seed(0);
  Residual unit;
  const at::Tensor x = at::randn({4, 8}).requires_grad_(true);
  auto grads = [&] {
    std::vector<at::Tensor> g{unit->proj->weight.grad().clone(), unit->proj->bias.grad().clone(), x.grad().clone()};
    for (at::Tensor t : {unit->proj->weight, unit->proj->bias, x}) t.mutable_grad().reset();
    return g;
  };
  unit->forward(x).pow(2).sum().backward();
  const std::vector<at::Tensor> plain = grads();

  const zs::UnitBody body = [&](const std::vector<at::Tensor>& in) { return std::vector<at::Tensor>{unit->forward(in[0])}; };
  const at::Tensor y = zs::checkpointed(body, {x}, unit.get())[0];
  y.pow(2).sum().backward();
  EXPECT_EQ(unit->unread, (std::vector<bool>{false, false, true}));  // plain, checkpointed forward, recompute
  const std::vector<at::Tensor> recomputed = grads();
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(at::equal(recomputed[i], plain[i])) << i;

  // Another module's recompute is not this one's: its result is read there.
  unit->unread.clear();
  Residual other;
  const zs::UnitBody outer = [&](const std::vector<at::Tensor>& in) { return std::vector<at::Tensor>{unit->forward(in[0])}; };
  zs::checkpointed(outer, {x}, other.get())[0].sum().backward();
  EXPECT_EQ(unit->unread, (std::vector<bool>{false, false}));
}

// Attention in a checkpointed forward keeps its output and statistics; the recompute builds its
// node around them (attention.hpp) and backward gives the gradients of the plain run, bit for bit.
// Both attention calls of the body keep, and the recompute takes each back in order.
TEST(ActivationCheckpoint, AttentionIsKeptForTheRecomputeNotRunAgain) {
  torch::manual_seed(0);
  const at::Tensor x = at::randn({2, 4, 16, 8}).requires_grad_(true);
  torch::nn::Linear mix(8, 8);
  int first = 0, second = 0;  // owners
  std::vector<std::string> nodes;  // the attention nodes the recompute made
  auto body = [&](const at::Tensor& in) {
    const at::Tensor h = zs::causal_attention(in, in * 0.5, in, /*dropout_p=*/0.0, /*enable_gqa=*/false, &first);
    const at::Tensor y = zs::causal_attention(mix->forward(h), h, h, 0.0, false, &second);
    if (zs::recomputing_forward()) nodes = {h.grad_fn()->name(), y.grad_fn()->name()};
    return y;
  };
  auto grads = [&] {
    std::vector<at::Tensor> g{mix->weight.grad().clone(), x.grad().clone()};
    mix->weight.mutable_grad().reset();
    x.mutable_grad().reset();
    return g;
  };
  body(x).pow(2).sum().backward();
  const std::vector<at::Tensor> plain = grads();
  zs::checkpointed(body, x).pow(2).sum().backward();
  ASSERT_EQ(nodes.size(), 2u);
  for (const std::string& name : nodes) EXPECT_NE(name.find("KeptAttentionFunction"), std::string::npos) << name;
  const std::vector<at::Tensor> recomputed = grads();
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(at::equal(recomputed[i], plain[i])) << i;

  // With dropout, attention is recomputed (its mask comes from the restored random numbers).
  nodes.clear();
  auto with_dropout = [&](const at::Tensor& in) {
    const at::Tensor y = zs::causal_attention(in, in, in, /*dropout_p=*/0.2, false, &first);
    if (zs::recomputing_forward()) nodes = {y.grad_fn()->name()};
    return y;
  };
  zs::checkpointed(with_dropout, x).sum().backward();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].find("KeptAttentionFunction"), std::string::npos) << nodes[0];

  // A kept output changed in place after the forward would be read by backward: refused, as
  // autograd refuses a saved tensor changed in place.
  auto in_place = [&](const at::Tensor& in) {
    return zs::causal_attention(in, in, in, 0.0, false, &first).mul_(2.0);
  };
  try {
    zs::checkpointed(in_place, x).sum().backward();
    ADD_FAILURE() << "backward read a kept attention output that was changed in place";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("changed in place"), std::string::npos) << e.what();
  }
}

TEST(ActivationCheckpoint, WithoutAutogradItIsAPlainCall) {
  Net net;
  torch::NoGradGuard no_grad;
  at::Tensor y = zs::checkpointed([&](const at::Tensor& in) { return net(in); }, at::randn({2, 16}));
  EXPECT_FALSE(y.requires_grad());
}

// The engine turns it on for every unit (here GPT blocks) when asked.
TEST(ActivationCheckpoint, EngineCheckpointsEveryUnitWhenAsked) {
  for (const char* section : {"", R"(, "activation_checkpointing": {})"}) {
    zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
    zs::Config config = zs::parse_config(std::string(R"({"train_micro_batch_size_per_gpu": 2)") + section + "}", 1);
    zs::GPTConfig g;
    g.n_layer = 2;
    g.n_head = 2;
    g.n_embd = 16;
    g.block_size = 8;
    g.vocab_size = 11;
    zs::GPT model(g);
    zs::EngineOptions options;
    options.log = false;
    options.activation_checkpointing = std::string(section).empty();  // the flag, or the config section
    zs::Engine engine(model, config, world, options);
    auto* block = model->transformer->h[0]->as<zs::Block>();
    at::Tensor y = block->forward(at::randn({2, 8, 16}).requires_grad_(true));
    EXPECT_EQ(y.grad_fn()->name(), "zs::CheckpointBackward");
    // Nothing keeps the node (and the activations it holds) once the output is gone, with or
    // without a backward: a cycle through the unit's body used to leak them every step.
    std::weak_ptr<torch::autograd::Node> node = y.grad_fn();
    y.reset();
    EXPECT_TRUE(node.expired());
    at::Tensor z = block->forward(at::randn({2, 8, 16}).requires_grad_(true));
    node = z.grad_fn();
    z.sum().backward();
    z.reset();
    EXPECT_TRUE(node.expired());
  }
}

struct ResidualPairImpl : torch::nn::Module {
  Residual first, second;
  ResidualPairImpl() {
    register_module("first", first);
    register_module("second", second);
  }
};
TORCH_MODULE(ResidualPair);

// Under an engine, each checkpointed unit's recompute tells that unit its result is unread.
TEST(ActivationCheckpoint, EngineTellsEachUnitItsRecomputedResultIsUnread) {
  zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
  zs::Config config = zs::parse_config(R"({"train_micro_batch_size_per_gpu": 2})", 1);
  ResidualPair model;
  zs::EngineOptions options;
  options.log = false;
  options.activation_checkpointing = true;
  zs::Engine engine(*model, config, world, options);
  model->second->forward(model->first->forward(at::randn({2, 8}).requires_grad_(true))).sum().backward();
  EXPECT_EQ(model->first->unread, (std::vector<bool>{false, true}));
  EXPECT_EQ(model->second->unread, (std::vector<bool>{false, true}));
}

// A stage-3 unit with a parameter its forward never uses: that parameter's gradient counts as zero
// (its part of the unit's gradient buffer is cleared, never left as it was allocated), so with
// plain Adam and no weight decay it does not move, and nothing turns NaN.
struct PartlyUsedImpl : torch::nn::Module {
  torch::nn::Linear used{8, 8}, unused{8, 8};
  PartlyUsedImpl() {
    register_module("used", used);
    register_module("unused", unused);
  }
  at::Tensor forward(const at::Tensor& x) { return used->forward(x); }
};
ZS_UNIT_MODULE(PartlyUsed);

struct TwoUnitsImpl : torch::nn::Module {
  PartlyUsed first, second;
  TwoUnitsImpl() {
    register_module("first", first);
    register_module("second", second);
  }
};
TORCH_MODULE(TwoUnits);

TEST(Stage3Units, AParameterWithoutGradientStaysPut) {
  zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
  zs::Config config = zs::parse_config(
      R"({"train_micro_batch_size_per_gpu": 2, "optimizer": {"type": "Adam", "params": {"lr": 0.1}},
          "bf16": {"enabled": true}, "zero_optimization": {"stage": 3}})", 1);
  torch::manual_seed(0);
  TwoUnits model;
  zs::EngineOptions options;
  options.log = false;
  std::vector<at::Tensor> before;
  for (const auto& p : model->parameters()) before.push_back(p.detach().to(at::kBFloat16).clone());
  zs::Engine engine(*model, config, world, options);
  for (int step = 0; step < 3; ++step) {
    at::Tensor x = at::randn({2, 8}).to(at::kBFloat16);
    engine.backward(model->second->forward(model->first->forward(x)).to(at::kFloat).pow(2).mean());
    engine.step();
  }
  zs::FullParameters full(engine);
  const auto params = model->named_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const at::Tensor now = params[i].value().detach();
    EXPECT_FALSE(now.isnan().any().item<bool>()) << params[i].key();
    if (params[i].key().find("unused") != std::string::npos)
      EXPECT_TRUE(at::equal(now, before[i])) << params[i].key() << " moved without a gradient";
    else
      EXPECT_FALSE(at::equal(now, before[i])) << params[i].key() << " did not train";
  }
}

}  // namespace

}  // namespace test_activation_checkpoint
