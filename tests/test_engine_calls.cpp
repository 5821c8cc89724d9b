// The engine's calling contract, as DeepSpeed's: backward, then step, on every micro-step. A second
// backward before step is refused with what to do (it would begin the window's reductions afresh
// and lose the first backward's gradients); after step the next backward goes on as usual.
#include <gtest/gtest.h>

#include <string>

#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include "zs/config/config.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"

namespace test_engine_calls {

TEST(EngineCalls, ASecondBackwardBeforeStepIsRefused) {
  zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
  torch::manual_seed(3);
  torch::nn::Linear model(4, 4);
  zs::EngineOptions options;
  options.log = false;
  zs::Engine engine(*model, zs::parse_config(R"({"train_micro_batch_size_per_gpu": 1, "gradient_accumulation_steps": 2,
      "optimizer": {"type": "AdamW", "params": {"lr": 0.01}}, "zero_optimization": {"stage": 2}})", 1),
                    world, options);
  auto loss = [&] { return model->forward(torch::randn({2, 4})).pow(2).mean(); };
  engine.backward(loss());
  try {
    engine.backward(loss());
    FAIL() << "a second backward before step was taken";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("Call engine.step() after every backward"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(engine.step());  // the window's first micro-step
  engine.backward(loss());
  EXPECT_TRUE(engine.step());   // its last: the parameters change
  EXPECT_EQ(engine.global_steps(), 1);
}

}  // namespace test_engine_calls
