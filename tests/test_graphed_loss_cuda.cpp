// GraphedLoss (--cuda_graph) on a GPU: training a GPT with the forward and backward replayed as CUDA
// graphs gives the eager run's losses and weights at every stage that allows it, with gradient
// accumulation too; dropout draws anew on each replay; what cannot be captured is refused with the
// reason. Built only with CUDA; run by bench/gpu_visit.sh.
#include <cmath>
#include <string>
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
#include "zs/models/gpt.hpp"

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

struct TrainedRun {
  std::vector<double> losses;
  std::vector<at::Tensor> params;
};

// `steps` optimizer steps on fixed random batches, eagerly or through a GraphedLoss.
TrainedRun train(zs::World& world, int stage, int accumulation, bool graphed, int steps) {
  torch::manual_seed(0);
  zs::GPT model(small_gpt(0.0));
  zs::EngineOptions options;
  options.log = false;
  zs::Engine engine(model, config_for(stage, accumulation), world, options);
  EXPECT_EQ(engine.cuda_graph_obstacle(), "");
  std::vector<at::Tensor> params;
  for (const at::Tensor& p : model->parameters()) params.push_back(p);
  zs::GraphedLoss graph([&](const std::vector<at::Tensor>& b) { return model->forward(b[0], b[1]).loss; }, params, {});
  // The same micro batches every step: the loss must fall as the model learns them.
  std::vector<std::vector<at::Tensor>> batches;
  for (int k = 0; k < accumulation; ++k) {
    const auto o = at::TensorOptions().dtype(at::kLong).device(world.device);
    batches.push_back({at::randint(65, {4, 32}, o), at::randint(65, {4, 32}, o)});
  }
  TrainedRun run;
  for (int s = 0; s < steps; ++s) {
    for (const auto& b : batches) {
      engine.backward(graphed ? graph(b) : model->forward(b[0], b[1]).loss);
      engine.step();
    }
    run.losses.push_back(engine.last_loss());
  }
  for (const at::Tensor& p : model->parameters()) run.params.push_back(p.detach().to(at::kFloat).cpu());
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
  torch::manual_seed(0);
  zs::GPT model(small_gpt(0.3));
  zs::EngineOptions options;
  options.log = false;
  zs::Engine engine(model, config_for(2, 1), world, options);
  zs::GraphedLoss graph([&](const std::vector<at::Tensor>& b) { return model->forward(b[0], b[1]).loss; },
                        model->parameters(), {});
  at::Tensor x = at::randint(65, {4, 32}, at::TensorOptions().dtype(at::kLong).device(world.device));
  at::Tensor y = at::randint(65, {4, 32}, at::TensorOptions().dtype(at::kLong).device(world.device));
  std::vector<double> losses;
  for (int i = 0; i < 3; ++i) {
    at::Tensor loss = graph({x, y});
    losses.push_back(loss.item<double>());
    engine.backward(loss);
    engine.step();
    EXPECT_TRUE(std::isfinite(engine.last_grad_norm()));
  }
  // The weights changed too, but by little at lr 1e-3; dropout's masks change the loss by more.
  EXPECT_NE(losses[0], losses[1]);
  EXPECT_NE(losses[1], losses[2]);
}

TEST(GraphedLoss, RefusesAnotherBatchShape) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  zs::World world = zs::init_distributed(zs::DevicePreference::cuda);
  zs::GPT model(small_gpt(0.0));
  zs::EngineOptions options;
  options.log = false;
  zs::Engine engine(model, config_for(0, 1), world, options);
  zs::GraphedLoss graph([&](const std::vector<at::Tensor>& b) { return model->forward(b[0], b[1]).loss; },
                        model->parameters(), {});
  auto batch = [&](int64_t rows) {
    auto o = at::TensorOptions().dtype(at::kLong).device(world.device);
    return std::vector<at::Tensor>{at::randint(65, {rows, 32}, o), at::randint(65, {rows, 32}, o)};
  };
  engine.backward(graph(batch(4)));
  engine.step();
  try {
    graph(batch(3));
    FAIL() << "a batch of another shape was replayed";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("fixed shapes"), std::string::npos) << e.what();
  }
}

TEST(GraphedLoss, EngineSaysWhatCannotBeCaptured) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  zs::World world = zs::init_distributed(zs::DevicePreference::cuda);
  {
    zs::GPT model(small_gpt(0.0));
    zs::EngineOptions options;
    options.log = false;
    zs::Engine engine(model, config_for(3, 1), world, options);
    EXPECT_NE(engine.cuda_graph_obstacle().find("stage 3"), std::string::npos) << engine.cuda_graph_obstacle();
  }
  {
    zs::GPT model(small_gpt(0.0));
    zs::EngineOptions options;
    options.log = false;
    options.activation_checkpointing = true;
    zs::Engine engine(model, config_for(1, 1), world, options);
    EXPECT_NE(engine.cuda_graph_obstacle().find("activation checkpointing"), std::string::npos)
        << engine.cuda_graph_obstacle();
  }
}

}  // namespace
