// GraphedLoss (--cuda_graph) on a GPU: training a GPT with the forward and backward replayed as CUDA
// graphs gives the eager run's losses and weights at every stage that allows it, with gradient
// accumulation too; dropout draws anew on each replay; what cannot be captured is refused with the
// reason. Built only with CUDA; run by bench/gpu_visit.sh.
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/randint.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include "zs/config/config.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/engine/graphed_loss.hpp"
#include "zs/models/gpt/gpt.hpp"

namespace {

zs::GPTConfig small_gpt(double dropout) {
  zs::GPTConfig g;
  g.n_layer = 2;
  g.n_head = 4;
  g.n_embd = 64;
  g.block_size = 32;
  g.vocab_size = 65;
  g.dropout = dropout;
  return g;
}

zs::Config config_for(int stage, int accumulation) {
  return zs::parse_config(R"({"train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": )" +
                              std::to_string(accumulation) + R"(, "gradient_clipping": 1.0, "bf16": {"enabled": true},
      "optimizer": {"type": "AdamW", "params": {"lr": 1e-3, "weight_decay": 0.1}},
      "zero_optimization": {"stage": )" + std::to_string(stage) + "}}",
                          1);
}

zs::EngineOptions quiet(bool activation_checkpointing = false) {
  zs::EngineOptions options;
  options.log = false;
  options.activation_checkpointing = activation_checkpointing;
  return options;
}

// A small GPT (seed 0) under an engine, and its loss as graphs (captured at the first call).
struct GraphedGpt {
  GraphedGpt(zs::World& world, double dropout, int stage, int accumulation)
      : model((torch::manual_seed(0), small_gpt(dropout))),
        engine(model, config_for(stage, accumulation), world, quiet()),
        graph([this](const std::vector<at::Tensor>& b) { return model->forward(b[0], b[1]).loss; }, model->parameters(),
              {}) {}
  zs::GPT model;
  zs::Engine engine;
  zs::GraphedLoss graph;
};

std::vector<at::Tensor> random_batch(const zs::World& world, int64_t rows) {
  const auto o = at::TensorOptions().dtype(at::kLong).device(world.device);
  return {at::randint(65, {rows, 32}, o), at::randint(65, {rows, 32}, o)};
}

struct TrainedRun {
  std::vector<double> losses;
  std::vector<at::Tensor> params;
};

// `steps` optimizer steps on fixed random batches, eagerly or through a GraphedLoss.
TrainedRun train(zs::World& world, int stage, int accumulation, bool graphed, int steps) {
  GraphedGpt g(world, 0.0, stage, accumulation);
  EXPECT_EQ(g.engine.cuda_graph_obstacle(), "");
  // The same micro batches every step: the loss must fall as the model learns them.
  std::vector<std::vector<at::Tensor>> batches;
  for (int k = 0; k < accumulation; ++k) batches.push_back(random_batch(world, 4));
  TrainedRun run;
  for (int s = 0; s < steps; ++s) {
    for (const auto& b : batches) {
      g.engine.backward(graphed ? g.graph(b) : g.model->forward(b[0], b[1]).loss);
      g.engine.step();
    }
    run.losses.push_back(g.engine.last_loss());
  }
  for (const at::Tensor& p : g.model->parameters()) run.params.push_back(p.detach().to(at::kFloat).cpu());
  return run;
}

class GraphedTraining : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(GraphedTraining, GivesTheEagerLossesAndWeights) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const auto [stage, accumulation] = GetParam();
  zs::World world = zs::init_distributed(zs::DevicePreference::cuda);
  torch::manual_seed(1);
  const TrainedRun eager = train(world, stage, accumulation, /*graphed=*/false, 8);
  torch::manual_seed(1);
  const TrainedRun graphed = train(world, stage, accumulation, /*graphed=*/true, 8);
  double loss_diff = 0, param_diff = 0;
  for (size_t i = 0; i < eager.losses.size(); ++i)
    loss_diff = std::max(loss_diff, std::abs(eager.losses[i] - graphed.losses[i]));
  for (size_t i = 0; i < eager.params.size(); ++i)
    param_diff = std::max(param_diff, (eager.params[i] - graphed.params[i]).abs().max().item<double>());
  std::printf("stage %d, accumulation %d: first loss %.5f, last %.5f; max |loss diff| %.3g, max |weight diff| %.3g\n",
              stage, accumulation, eager.losses.front(), eager.losses.back(), loss_diff, param_diff);
  EXPECT_LT(eager.losses.back(), eager.losses.front());
  // The same kernels on the same inputs: expected bit for bit; allow rounding should a library
  // pick another algorithm under capture.
  EXPECT_LE(loss_diff, 1e-3);
  EXPECT_LE(param_diff, 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Stages, GraphedTraining,
                         ::testing::Values(std::make_pair(0, 1), std::make_pair(1, 1), std::make_pair(2, 1),
                                           std::make_pair(2, 2)));

TEST(GraphedLoss, DropoutDrawsAnewOnEveryReplay) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  zs::World world = zs::init_distributed(zs::DevicePreference::cuda);
  GraphedGpt g(world, 0.3, 2, 1);
  const std::vector<at::Tensor> batch = random_batch(world, 4);
  std::vector<double> losses;
  for (int i = 0; i < 3; ++i) {
    at::Tensor loss = g.graph(batch);
    losses.push_back(loss.item<double>());
    g.engine.backward(loss);
    g.engine.step();
    EXPECT_TRUE(std::isfinite(g.engine.last_grad_norm()));
  }
  // The weights changed too, but by little at lr 1e-3; dropout's masks change the loss by more.
  EXPECT_NE(losses[0], losses[1]);
  EXPECT_NE(losses[1], losses[2]);
}

TEST(GraphedLoss, RefusesAnotherBatchShape) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  zs::World world = zs::init_distributed(zs::DevicePreference::cuda);
  GraphedGpt g(world, 0.0, 0, 1);
  g.engine.backward(g.graph(random_batch(world, 4)));
  g.engine.step();
  try {
    g.graph(random_batch(world, 3));
    FAIL() << "a batch of another shape was replayed";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("fixed shapes"), std::string::npos) << e.what();
  }
}

TEST(GraphedLoss, EngineSaysWhatCannotBeCaptured) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  zs::World world = zs::init_distributed(zs::DevicePreference::cuda);
  for (const auto& [stage, checkpointing, reason] :
       {std::tuple<int, bool, std::string>{3, false, "stage 3"}, {1, true, "activation checkpointing"}}) {
    zs::GPT model(small_gpt(0.0));
    zs::Engine engine(model, config_for(stage, 1), world, quiet(checkpointing));
    EXPECT_NE(engine.cuda_graph_obstacle().find(reason), std::string::npos) << engine.cuda_graph_obstacle();
  }
}

}  // namespace
