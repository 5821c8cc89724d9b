// Gradient places (base/grad_place.hpp): the engine's staged gradient buckets offer each parameter
// a place in their staging buffer; a layer that writes its weight gradient there spares the copy.
// On GPUs our Linear and LayerNorm do (test_norm_bias_cuda.cpp); here a CPU layer of the test's
// own takes the places, and training must give the same bits as when it does not — at stages 2
// and 3, with accumulation, with a weight used twice in one backward (only its first gradient
// may take the place), and with buckets of one parameter each.
#include <gtest/gtest.h>

#include <ATen/ops/linear.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/randn.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/utils.h>

#include "zs/base/grad_place.hpp"
#include "zs/config/config.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/zero/unit.hpp"

namespace test_grad_place {

namespace {

int places_taken = 0;
bool take_places = true;

// y = x W^T; backward writes dW into the offered place when asked to.
struct PlacingLinear : torch::autograd::Function<PlacingLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w) {
    ctx->save_for_backward({x, w});
    return at::linear(x, w);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list g) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor x = saved[0].reshape({-1, saved[0].size(-1)}), dy = g[0].reshape({-1, g[0].size(-1)});
    at::Tensor place = take_places ? zs::take_grad_place(saved[1]) : at::Tensor();
    at::Tensor dw;
    if (place.defined()) {
      ++places_taken;
      dw = at::mm_out(place, dy.t(), x);
    } else {
      dw = dy.t().mm(x);
    }
    return {dy.mm(saved[1]).view(g[0].sizes()), dw};
  }
};

class LayerImpl : public torch::nn::Module {
 public:
  LayerImpl() {
    a = register_parameter("a", at::randn({16, 16}) * 0.2);
    b = register_parameter("b", at::randn({16, 16}) * 0.2);
  }
  at::Tensor forward(const at::Tensor& x) {
    // `a` twice: its two gradients are summed by autograd, the first may sit in the place.
    const at::Tensor h = at::tanh(PlacingLinear::apply(x, a));
    return x + PlacingLinear::apply(at::tanh(PlacingLinear::apply(h, b)), a);
  }
  at::Tensor a, b;
};
ZS_UNIT_MODULE(Layer);

class NetImpl : public torch::nn::Module {
 public:
  NetImpl() {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int i = 0; i < 3; ++i) layers->push_back(Layer());
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = x;
    for (const auto& l : *layers) h = l->as<Layer>()->forward(h);
    return h.pow(2).mean();
  }
  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(Net);

std::vector<at::Tensor> train(int stage, int accumulation, bool take, int bucket_size = 600) {
  take_places = take;
  places_taken = 0;
  zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
  torch::manual_seed(5);
  Net net;
  zs::EngineOptions options;
  options.log = false;
  const zs::Config config = zs::parse_config(
      R"({"train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": )" + std::to_string(accumulation) +
          R"(, "optimizer": {"type": "AdamW", "params": {"lr": 0.01}},
          "zero_optimization": {"stage": )" + std::to_string(stage) +
          R"(, "reduce_bucket_size": )" + std::to_string(bucket_size) +
          R"(, "stage3_param_persistence_threshold": 0}})",
      1);
  zs::Engine engine(*net, config, world, options);
  for (int micro = 0; micro < 4 * accumulation; ++micro) {
    torch::manual_seed(50 + micro);
    engine.backward(net->forward(at::randn({4, 16})));
    engine.step();  // every micro-step, as with DeepSpeed: it updates on the window's last
  }
  zs::FullParameters full(engine);
  std::vector<at::Tensor> params;
  for (const auto& p : net->parameters()) params.push_back(p.detach().clone());
  return params;
}

}  // namespace

TEST(GradPlace, WritingGradientsIntoTheBucketsChangesNothing) {
  for (const int stage : {2, 3})
    for (const int accumulation : {1, 2}) {
      const auto copied = train(stage, accumulation, /*take=*/false);
      const auto placed = train(stage, accumulation, /*take=*/true);
      // Every layer's `b` and its `a`'s first gradient, on every micro-step.
      EXPECT_EQ(places_taken, 3 * 2 * 4 * accumulation) << "stage " << stage;
      ASSERT_EQ(copied.size(), placed.size());
      for (size_t i = 0; i < copied.size(); ++i)
        EXPECT_TRUE(copied[i].equal(placed[i])) << "stage " << stage << ", accumulation " << accumulation << ", parameter " << i;
    }
}

// Buckets smaller than a parameter hold one parameter each (stage 2 here; at stage 3 a unit's
// parameters share its buckets). Elsewhere such a bucket reduces straight from .grad; on one rank a
// window's first micro-step stages into the shard gradient itself, so there the place is offered
// too (and on later micro-steps, which add to it, not).
TEST(GradPlace, OneRanksSingleParameterBucketsOfferTheShardGradient) {
  for (const int accumulation : {1, 2}) {
    const auto copied = train(/*stage=*/2, accumulation, /*take=*/false, /*bucket_size=*/200);
    const auto placed = train(/*stage=*/2, accumulation, /*take=*/true, /*bucket_size=*/200);
    // Every layer's `b` and its `a`'s first gradient, on each window's first micro-step.
    EXPECT_EQ(places_taken, 3 * 2 * 4) << "accumulation " << accumulation;
    ASSERT_EQ(copied.size(), placed.size());
    for (size_t i = 0; i < copied.size(); ++i)
      EXPECT_TRUE(copied[i].equal(placed[i])) << "accumulation " << accumulation << ", parameter " << i;
  }
}

TEST(GradPlace, NothingIsOfferedWithoutAnEngineOrAfterIt) {
  torch::manual_seed(1);
  Layer layer;
  EXPECT_FALSE(zs::take_grad_place(layer->a).defined());
  {
    zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
    zs::EngineOptions options;
    options.log = false;
    zs::Engine engine(*layer, zs::parse_config(R"({"train_micro_batch_size_per_gpu": 1,
        "optimizer": {"type": "AdamW", "params": {"lr": 0.01}}, "zero_optimization": {"stage": 2}})", 1),
                      world, options);
    EXPECT_FALSE(zs::take_grad_place(layer->a).defined()) << "offered outside backward";
  }
  EXPECT_FALSE(zs::take_grad_place(layer->a).defined()) << "offered after the engine went";
}

}  // namespace test_grad_place
