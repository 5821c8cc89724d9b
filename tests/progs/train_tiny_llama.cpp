// Trains a tiny Llama (grouped-query attention, attention biases, untied head) for a few steps
// under a given ZeRO config and writes the per-step losses and grad norms and the final weights
// to a JSON file (rank 0): train_tiny's Llama twin, for the Llama equivalence tests.
//
//   train_tiny_llama --config cfg.json --out result.json [--steps 8] [--activation_checkpointing] [--meta]
#include <cmath>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "support/params_json.hpp"
#include "zs/config/config.hpp"
#include "zs/data/batch_sampler.hpp"
#include "zs/data/synthetic_text.hpp"
#include "zs/data/token_data.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/models/llama/llama.hpp"

int main(int argc, char** argv) {
  CLI::App app{"train a tiny Llama and dump losses and weights"};
  std::string config_path, out_path, device = "cpu";
  int64_t steps = 8;
  bool activation_checkpointing = false, meta = false;
  app.add_option("--config", config_path, "DeepSpeed JSON config")->required();
  app.add_option("--out", out_path, "where rank 0 writes the result JSON")->required();
  app.add_option("--steps", steps, "optimizer steps");
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_flag("--activation_checkpointing", activation_checkpointing, "recompute each decoder layer in backward");
  app.add_flag("--meta", meta, "build the model on the meta device; the engine makes and initialises it");
  CLI11_PARSE(app, argc, argv);

  try {
    zs::World world = zs::init_distributed(device == "cuda" ? zs::DevicePreference::cuda : zs::DevicePreference::cpu);
    zs::Config config = zs::load_config(config_path, world.size());

    zs::TokenData data = zs::TokenData::from_text(zs::synthetic_text(20000, 7), 0.9, "synthetic");
    zs::LlamaConfig llama;
    llama.vocab_size = data.vocab_size();
    llama.hidden_size = 32;
    llama.intermediate_size = 48;
    llama.num_hidden_layers = 2;
    llama.num_attention_heads = 4;
    llama.num_key_value_heads = 2;
    llama.max_position_embeddings = 16;
    llama.attention_bias = true;
    llama.initializer_range = 0.05;
    torch::manual_seed(1234);
    zs::Llama model(llama, meta ? c10::Device(c10::kMeta) : c10::Device(c10::kCPU));

    zs::EngineOptions options;
    options.decay = [](const std::string&, const at::Tensor& p) { return p.dim() >= 2; };
    options.log = false;
    options.activation_checkpointing = activation_checkpointing;
    if (meta) options.meta_init = [&model](const std::string& name, at::Tensor& value) { model->init_parameter(name, value); };
    zs::Engine engine(model, config, world, options);

    zs::GlobalBatchSampler sampler(data, 16, 42);
    nlohmann::json result;
    const int64_t micro = config.train_micro_batch_size_per_gpu;
    for (int64_t step = 0; step < steps; ++step) {
      for (int64_t m = 0; m < config.gradient_accumulation_steps; ++m) {
        zs::Batch b = sampler.batch(zs::Split::Train, step, m, world.rank(), world.size(), micro);
        engine.backward(model->loss(b.x.to(world.device), b.y.to(world.device)));
        engine.step();
      }
      result["loss"].push_back(engine.last_loss());
      result["grad_norm"].push_back(std::isfinite(engine.last_grad_norm()) ? engine.last_grad_norm() : -1.0);
      result["skipped"].push_back(engine.last_step_skipped());
    }
    zs::FullParameters full(engine);  // stage 3 keeps only shards between uses
    if (world.is_main()) {
      result["params"] = zs::testing::parameters_json(*model);
      std::ofstream(out_path) << result.dump();
    }
  } catch (const std::exception& e) {
    std::cerr << "train_tiny_llama: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
