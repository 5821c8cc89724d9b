// Trains a tiny GPT for a few steps under a given ZeRO config and writes what happened (per-step
// losses, grad norms, loss scales, skipped flags) and the final weights to a JSON file (rank 0).
// The multi-process equivalence tests run it through zsrun at several world sizes, stages,
// precisions and accumulation settings and compare against a single-process reference.
//
//   train_tiny --config cfg.json --out result.json [--steps 8] [--poison_step 3 --poison_rank 1] [--meta]
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include "support/params_json.hpp"
#include "zs/config/config.hpp"
#include "zs/data/batch_sampler.hpp"
#include "zs/data/synthetic_text.hpp"
#include "zs/data/token_data.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/models/gpt/gpt.hpp"

int main(int argc, char** argv) {
  CLI::App app{"train a tiny GPT and dump losses and weights"};
  std::string config_path, out_path;
  int64_t steps = 8;
  std::vector<int64_t> poison_steps;
  int poison_rank = 0;
  std::string device = "cpu";
  bool activation_checkpointing = false, meta = false;
  double dropout = 0.0;
  app.add_option("--config", config_path, "DeepSpeed JSON config")->required();
  app.add_option("--out", out_path, "where rank 0 writes the result JSON")->required();
  app.add_option("--steps", steps, "optimizer steps");
  app.add_option("--poison_steps", poison_steps, "steps at which one gradient becomes inf (overflow injection)");
  app.add_option("--poison_rank", poison_rank, "rank that injects the inf");
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_flag("--activation_checkpointing", activation_checkpointing, "recompute each block's activations in backward");
  app.add_option("--dropout", dropout, "dropout probability");
  app.add_flag("--meta", meta, "build the model on the meta device; the engine makes and initialises it");
  CLI11_PARSE(app, argc, argv);

  try {
    zs::World world = zs::init_distributed(device == "cuda" ? zs::DevicePreference::cuda : zs::DevicePreference::cpu);
    zs::Config config = zs::load_config(config_path, world.size());

    zs::GPTConfig gpt;
    gpt.n_layer = 2;
    gpt.n_head = 2;
    gpt.n_embd = 32;
    gpt.block_size = 16;
    gpt.dropout = dropout;
    zs::TokenData data = zs::TokenData::from_text(zs::synthetic_text(20000, 7), 0.9, "synthetic");
    gpt.vocab_size = data.vocab_size();
    torch::manual_seed(1234);
    zs::GPT model(gpt, meta ? c10::Device(c10::kMeta) : c10::Device(c10::kCPU));

    // nanoGPT's grouping: matrices decay, biases and norms do not.
    zs::EngineOptions options;
    options.decay = [](const std::string&, const at::Tensor& p) { return p.dim() >= 2; };
    options.log = false;
    options.activation_checkpointing = activation_checkpointing;
    if (meta) options.meta_init = [&model](const std::string& name, at::Tensor& value) { model->init_parameter(name, value); };
    zs::Engine engine(model, config, world, options);
    torch::manual_seed(99 + world.rank());  // dropout masks: per rank, the same in every run

    // Overflow injection: one rank turns one parameter's gradient into inf on chosen steps.
    at::Tensor poisoned = model->transformer->ln_f->weight;
    int64_t current_step = 0;
    poisoned.register_hook([&](const at::Tensor& grad) -> at::Tensor {
      for (int64_t s : poison_steps)
        if (s == current_step && world.rank() == poison_rank) return grad * std::numeric_limits<float>::infinity();
      return grad;
    });

    zs::GlobalBatchSampler sampler(data, gpt.block_size, 42);
    nlohmann::json result;
    const int64_t micro = config.train_micro_batch_size_per_gpu;
    for (current_step = 0; current_step < steps; ++current_step) {
      for (int64_t m = 0; m < config.gradient_accumulation_steps; ++m) {
        zs::Batch b = sampler.batch(zs::Split::Train, current_step, m, world.rank(), world.size(), micro);
        engine.backward(model->forward(b.x.to(world.device), b.y.to(world.device)).loss);
        engine.step();
      }
      result["loss"].push_back(engine.last_loss());
      result["grad_norm"].push_back(std::isfinite(engine.last_grad_norm()) ? engine.last_grad_norm() : -1.0);
      result["loss_scale"].push_back(engine.loss_scale());
      result["skipped"].push_back(engine.last_step_skipped());
    }
    result["super_offload"] = engine.super_offload_obstacle();  // empty: steps began in backward
    result["offload"] = engine.offload_summary();
    zs::FullParameters full(engine);  // stage 3 keeps only shards between uses
    if (world.is_main()) {
      result["params"] = zs::testing::parameters_json(*model);
      std::ofstream(out_path) << result.dump();
    }
  } catch (const std::exception& e) {
    std::cerr << "train_tiny: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
