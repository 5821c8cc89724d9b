// The unit contract (zero/unit.hpp): any module with any tensor signature is a unit; without an
// engine it is a plain module; under the engine, stage 3 gathers and releases it around forward
// and backward and activation checkpointing recomputes it, with the gradients of the plain run.
// Sequential children become units without a class, a model without units gets them made at
// stage 3 or is refused, explicit unshard/reshard, and models built on the meta device.
#include <gtest/gtest.h>

#include <ATen/ops/randn.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include "zs/config/config.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/zero/activation_checkpoint.hpp"
#include "zs/zero/sequential_units.hpp"
#include "zs/zero/unit.hpp"

namespace test_units {

namespace {

// A unit with several tensor inputs (one optional), a number, and two outputs.
class MixerImpl : public torch::nn::Module {
 public:
  MixerImpl() {
    a = register_module("a", torch::nn::Linear(8, 8));
    b = register_module("b", torch::nn::Linear(8, 8));
  }
  std::tuple<at::Tensor, at::Tensor> forward(const at::Tensor& h, const at::Tensor& gate,
                                             const std::optional<at::Tensor>& bias, double scale) {
    at::Tensor y = h + at::tanh(a->forward(h)) * gate * scale;
    if (bias) y = y + *bias;
    return {y, b->forward(y).sum(-1)};
  }
  torch::nn::Linear a{nullptr}, b{nullptr};
};
ZS_UNIT_MODULE(Mixer);

class StackImpl : public torch::nn::Module {
 public:
  explicit StackImpl(int n) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int i = 0; i < n; ++i) layers->push_back(Mixer());
    gate = register_parameter("gate", at::randn({8}));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = x, aux = at::zeros({}, x.options());
    const at::Tensor bias = at::full({8}, 0.01, x.options());
    for (const auto& layer : *layers) {
      auto [y, side] = layer->as<Mixer>()->forward(h, gate, bias, 0.5);
      h = y;
      aux = aux + side.mean();
    }
    return h.pow(2).mean() + 0.1 * aux;
  }
  torch::nn::ModuleList layers{nullptr};
  at::Tensor gate;
};
TORCH_MODULE(Stack);

zs::Config config_for(int stage, const std::string& extra = "") {
  return zs::parse_config(R"({"train_micro_batch_size_per_gpu": 4, "gradient_clipping": 1.0,
      "optimizer": {"type": "AdamW", "params": {"lr": 0.01, "weight_decay": 0.1}},
      "zero_optimization": {"stage": )" + std::to_string(stage) +
                              R"(, "stage3_param_persistence_threshold": 10})" + extra + "}",
                          1);
}

zs::EngineOptions quiet() {
  zs::EngineOptions o;
  o.log = false;
  return o;
}

// Trains a fresh Stack for a few steps and returns the losses and the final parameters.
std::pair<std::vector<double>, std::vector<at::Tensor>> train_stack(int stage, bool checkpointing) {
  zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
  torch::manual_seed(3);
  Stack model(3);
  zs::EngineOptions options = quiet();
  options.activation_checkpointing = checkpointing;
  zs::Engine engine(*model, config_for(stage), world, options);
  std::vector<double> losses;
  for (int step = 0; step < 4; ++step) {
    torch::manual_seed(100 + step);
    at::Tensor loss = model->forward(at::randn({4, 8}));
    losses.push_back(loss.item<double>());
    engine.backward(loss);
    engine.step();
  }
  zs::FullParameters full(engine);
  std::vector<at::Tensor> params;
  for (const auto& p : model->parameters()) params.push_back(p.detach().clone());
  return {losses, params};
}

TEST(UnitContract, WithoutAnEngineAUnitIsItsModule) {
  torch::manual_seed(0);
  Mixer unit;
  const at::Tensor h = at::randn({2, 8}), gate = at::randn({8});
  auto [y1, s1] = unit->forward(h, gate, std::nullopt, 2.0);
  auto [y2, s2] = static_cast<MixerImpl&>(*unit).forward(h, gate, std::nullopt, 2.0);
  EXPECT_TRUE(at::equal(y1, y2));
  EXPECT_TRUE(at::equal(s1, s2));
  EXPECT_EQ(unit->named_parameters().size(), 4u);  // a.weight, a.bias, b.weight, b.bias: names unchanged
}

TEST(UnitContract, CheckpointingSeveralInputsAndOutputsGivesThePlainGradients) {
  torch::manual_seed(0);
  torch::nn::Linear lin(8, 8);
  const at::Tensor x0 = at::randn({4, 8}), g0 = at::randn({8});
  auto body = [&](const std::vector<at::Tensor>& in) {
    at::Tensor y = at::tanh(lin->forward(in[0])) * in[1];
    return std::vector<at::Tensor>{y, y.sum(-1), in[1]};  // the last hands an input back unchanged
  };
  auto run = [&](bool checkpoint) {
    at::Tensor x = x0.clone().requires_grad_(true), g = g0.clone().requires_grad_(true);
    lin->weight.mutable_grad().reset();
    auto out = checkpoint ? zs::checkpointed(body, {x, g}) : body({x, g});
    (out[0].pow(2).sum() + out[1].sum() + out[2].sum()).backward();
    return std::vector<at::Tensor>{x.grad(), g.grad(), lin->weight.grad().clone()};
  };
  const auto plain = run(false), recomputed = run(true);
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(at::allclose(plain[i], recomputed[i], 1e-6, 1e-7)) << i;
}

TEST(UnitContract, MultiInputUnitsTrainTheSameAtStage3AndWithCheckpointing) {
  const auto reference = train_stack(0, false);
  for (const auto& [stage, checkpointing] : std::vector<std::pair<int, bool>>{{0, true}, {2, true}, {3, false}, {3, true}}) {
    const auto run = train_stack(stage, checkpointing);
    for (size_t i = 0; i < reference.first.size(); ++i)
      EXPECT_NEAR(run.first[i], reference.first[i], 1e-6 * std::abs(reference.first[i])) << "stage " << stage << " step " << i;
    for (size_t i = 0; i < reference.second.size(); ++i)
      EXPECT_TRUE(at::allclose(run.second[i], reference.second[i], 1e-5, 1e-6)) << "stage " << stage << " param " << i;
  }
}

TEST(UnitContract, Stage3ReleasesUnitsBetweenUsesAndExplicitUnshardKeepsThem) {
  zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
  torch::manual_seed(3);
  Stack model(2);
  zs::Engine engine(*model, config_for(3), world, quiet());
  EXPECT_EQ(engine.unit_names(), (std::vector<std::string>{"layers.0", "layers.1"}));
  torch::nn::Module& layer = *model->layers[0];
  const at::Tensor w = layer.named_parameters()["a.weight"];
  EXPECT_EQ(w.storage().nbytes(), 0u);  // released: only the shard exists
  engine.unshard(layer);
  EXPECT_GT(w.storage().nbytes(), 0u);
  const at::Tensor copy = w.clone();
  engine.backward(model->forward(at::randn({4, 8})));  // a forward and backward keep it gathered
  EXPECT_GT(w.storage().nbytes(), 0u);
  EXPECT_TRUE(at::equal(w, copy));
  engine.reshard(layer);
  EXPECT_EQ(w.storage().nbytes(), 0u);
}

TEST(SequentialUnits, ChildrenBecomeUnitsWithTheirNamesAndOutputs) {
  torch::manual_seed(0);
  torch::nn::Sequential seq(torch::nn::Linear(4, 8), torch::nn::ReLU(), torch::nn::Linear(8, 2));
  const at::Tensor x = at::randn({3, 4});
  const at::Tensor before = seq->forward(x);
  const auto names = [&] {
    std::vector<std::string> n;
    for (const auto& p : seq->named_parameters()) n.push_back(p.key());
    return n;
  };
  const auto names_before = names();
  EXPECT_EQ(zs::make_units(seq), 2);  // the ReLU has no parameters
  EXPECT_EQ(names(), names_before);
  EXPECT_TRUE(at::equal(seq->forward(x), before));
  std::vector<std::string> units;
  for (const auto& u : zs::find_units(*seq)) units.push_back(u.name);
  EXPECT_EQ(units, (std::vector<std::string>{"0", "2"}));
  EXPECT_EQ(zs::make_units(seq), 0);  // already units
}

TEST(AutomaticUnits, Stage3MakesThemForAPlainSequential) {
  zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
  torch::manual_seed(0);
  torch::nn::Sequential mlp(torch::nn::Linear(16, 64), torch::nn::ReLU(), torch::nn::Linear(64, 16));
  zs::Engine engine(*mlp, config_for(3), world, quiet());
  EXPECT_EQ(engine.unit_names(), (std::vector<std::string>{"0", "2"}));
  for (int step = 0; step < 2; ++step) {
    engine.backward(mlp->forward(at::randn({4, 16})).pow(2).mean());
    engine.step();
  }
}

class BlocksImpl : public torch::nn::Module {
 public:
  BlocksImpl() {
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int i = 0; i < 3; ++i) blocks->push_back(torch::nn::Linear(8, 8));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = x;
    for (const auto& b : *blocks) h = b->as<torch::nn::Linear>()->forward(h);
    return h;
  }
  torch::nn::ModuleList blocks{nullptr};
};
TORCH_MODULE(Blocks);

TEST(AutomaticUnits, AModelTheyCannotBeMadeForIsRefusedWithWhatToMark) {
  zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
  Blocks model;
  try {
    zs::Engine engine(*model, config_for(3), world, quiet());
    FAIL() << "stage 3 without units was accepted";
  } catch (const zs::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("ZS_UNIT_MODULE"), std::string::npos) << what;
    EXPECT_NE(what.find("blocks"), std::string::npos) << what;  // names the container it found
  }
  zs::Engine below(*model, config_for(2), world, quiet());  // stage 2 needs no units
}

// A model whose parameters are made on the meta device: no memory until the engine materialises
// them with meta_init; it trains exactly as the same model built with those values on the host.
class MetaLayerImpl : public torch::nn::Module {
 public:
  explicit MetaLayerImpl(at::Device device) {
    w = register_parameter("w", at::empty({16, 16}, at::TensorOptions().device(device)));
  }
  at::Tensor forward(const at::Tensor& x) { return at::tanh(at::matmul(x, w)); }
  at::Tensor w;
};
ZS_UNIT_MODULE(MetaLayer);

class MetaNetImpl : public torch::nn::Module {
 public:
  explicit MetaNetImpl(at::Device device) {
    layer = register_module("layer", MetaLayer(device));
    v = register_parameter("v", at::empty({16}, at::TensorOptions().device(device)));
  }
  at::Tensor forward(const at::Tensor& x) { return (layer->forward(x) + v).pow(2).mean(); }
  MetaLayer layer{nullptr};
  at::Tensor v;
};
TORCH_MODULE(MetaNet);

void fill(const std::string& name, at::Tensor& t) {
  torch::NoGradGuard no_grad;
  const at::Tensor values = at::arange(t.numel(), t.options()).reshape(t.sizes());
  t.copy_(at::sin(values * (name == "layer.w" ? 0.37 : 0.11)) * 0.3);
}

TEST(MetaDevice, AModelBuiltWithoutMemoryIsMaterialisedAndTrainsTheSame) {
  for (int stage : {0, 2, 3}) {
    std::vector<double> losses[2];
    for (int meta = 0; meta < 2; ++meta) {
      zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
      MetaNet model(meta ? at::Device(at::kMeta) : at::Device(at::kCPU));
      zs::EngineOptions options = quiet();
      if (meta) {
        options.meta_init = fill;
      } else {
        for (auto& p : model->named_parameters()) fill(p.key(), p.value());
      }
      zs::Engine engine(*model, config_for(stage), world, options);
      for (int step = 0; step < 3; ++step) {
        torch::manual_seed(step);
        at::Tensor loss = model->forward(at::randn({4, 16}));
        losses[meta].push_back(loss.item<double>());
        engine.backward(loss);
        engine.step();
      }
    }
    EXPECT_EQ(losses[0], losses[1]) << "stage " << stage;
  }
}

TEST(MetaDevice, WithoutAnInitializerTheEngineSaysWhatIsMissing) {
  zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
  MetaNet model(at::Device(at::kMeta));
  EXPECT_THROW(
      {
        try {
          zs::Engine engine(*model, config_for(2), world, quiet());
        } catch (const std::exception& e) {
          EXPECT_NE(std::string(e.what()).find("meta_init"), std::string::npos) << e.what();
          throw;
        }
      },
      std::exception);
}

}  // namespace

}  // namespace test_units
