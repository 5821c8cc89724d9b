// Trains a plain torch::nn::Sequential MLP (no unit code anywhere) under a given ZeRO config and
// writes its per-step losses, its final weights and the parameter memory each rank held after
// the last step (rank 0 writes; every rank's bytes are gathered). At stage 3 the engine makes the
// Sequential's children units by itself.
//
//   mlp_sequential --config cfg.json --out result.json [--steps 5]
#include <fstream>
#include <iostream>

#include <ATen/ops/randn.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include "support/params_json.hpp"
#include "zs/config/config.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"

int main(int argc, char** argv) {
  CLI::App app{"train a plain Sequential MLP and dump losses, weights and parameter memory"};
  std::string config_path, out_path;
  int64_t steps = 5;
  app.add_option("--config", config_path, "DeepSpeed JSON config")->required();
  app.add_option("--out", out_path, "where rank 0 writes the result JSON")->required();
  app.add_option("--steps", steps, "optimizer steps");
  CLI11_PARSE(app, argc, argv);
  try {
    zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
    zs::Config config = zs::load_config(config_path, world.size());
    torch::manual_seed(5);
    torch::nn::Sequential mlp(torch::nn::Linear(32, 256), torch::nn::ReLU(), torch::nn::Linear(256, 256),
                              torch::nn::ReLU(), torch::nn::Linear(256, 32));
    zs::EngineOptions options;
    options.log = false;
    zs::Engine engine(*mlp, config, world, options);
    const int64_t micro = config.train_micro_batch_size_per_gpu;
    nlohmann::json result;
    for (int64_t step = 0; step < steps; ++step) {
      // The same global batch at every world size; each rank takes its rows.
      torch::manual_seed(1000 + step);
      const at::Tensor x = at::randn({micro * world.size(), 32});
      const at::Tensor mine = x.narrow(0, micro * world.rank(), micro);
      engine.backward((mlp->forward(mine) - mine).pow(2).mean());
      engine.step();
      result["loss"].push_back(engine.last_loss());
    }
    at::Tensor bytes = at::zeros({world.size()}, at::kDouble);
    bytes[world.rank()] = double(engine.resident_parameter_bytes());
    world.comm->all_reduce(bytes, zs::ReduceOp::sum)->wait();
    result["param_bytes"] = std::vector<double>(bytes.data_ptr<double>(), bytes.data_ptr<double>() + bytes.numel());
    result["units"] = engine.unit_names();
    zs::FullParameters full(engine);
    if (world.is_main()) {
      result["params"] = zs::testing::parameters_json(*mlp);
      std::ofstream(out_path) << result.dump();
    }
  } catch (const std::exception& e) {
    std::cerr << "mlp_sequential: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
