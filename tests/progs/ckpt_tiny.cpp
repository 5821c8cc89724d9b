// Trains the tiny GPT of the equivalence tests, with checkpoints: optionally loads one first,
// saves after chosen steps, and writes (rank 0) the losses of the steps it ran, the final weights,
// and a trace of CPU random numbers drawn once per step (so a resumed run shows whether the
// generator state came back) to a JSON file. The checkpoint tests run it through zsrun.
//
//   ckpt_tiny --config cfg.json --out result.json --steps 40 [--save_dir D --save_at 20 --keep_last K]
//             [--load_dir D [--load_tag T]] [--n_embd 32]
#include <algorithm>
#include <iostream>
#include <fstream>

#include <ATen/ops/rand.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "zs/ckpt/checkpoint.hpp"
#include "support/params_json.hpp"
#include "zs/config/config.hpp"
#include "zs/data/batch_sampler.hpp"
#include "zs/data/synthetic_text.hpp"
#include "zs/data/token_data.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/models/gpt/gpt.hpp"

int main(int argc, char** argv) {
  CLI::App app{"train a tiny GPT with checkpoints"};
  std::string config_path, out_path, save_dir, load_dir, load_tag;
  int64_t steps = 8, n_embd = 32;
  std::vector<int64_t> save_at;
  int keep_last = 0;
  app.add_option("--config", config_path)->required();
  app.add_option("--out", out_path)->required();
  app.add_option("--steps", steps, "train until this optimizer step");
  app.add_option("--save_dir", save_dir);
  app.add_option("--save_at", save_at, "save after these steps");
  app.add_option("--keep_last", keep_last);
  app.add_option("--load_dir", load_dir, "load a checkpoint from here first");
  app.add_option("--load_tag", load_tag);
  app.add_option("--n_embd", n_embd, "model width (a different one makes a checkpoint incompatible)");
  CLI11_PARSE(app, argc, argv);

  try {
    zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
    zs::Config config = zs::load_config(config_path, world.size());
    zs::GPTConfig gpt;
    gpt.n_layer = 2;
    gpt.n_head = 2;
    gpt.n_embd = n_embd;
    gpt.block_size = 16;
    zs::TokenData data = zs::TokenData::from_text(zs::synthetic_text(20000, 7), 0.9, "synthetic");
    gpt.vocab_size = data.vocab_size();
    torch::manual_seed(1234);
    zs::GPT model(gpt);
    zs::EngineOptions options;
    options.decay = [](const std::string&, const at::Tensor& p) { return p.dim() >= 2; };
    options.log = false;
    zs::Engine engine(model, config, world, options);

    nlohmann::json result;
    int64_t start = 0;
    if (!load_dir.empty()) {
      const nlohmann::json client = zs::load_checkpoint(engine, load_dir, load_tag);
      start = client.at("step").get<int64_t>();
      result["global_steps_after_load"] = engine.global_steps();
      result["client_state"] = client;
    }
    zs::GlobalBatchSampler sampler(data, gpt.block_size, 42);
    const int64_t micro = config.train_micro_batch_size_per_gpu;
    for (int64_t step = start; step < steps; ++step) {
      for (int64_t m = 0; m < config.gradient_accumulation_steps; ++m) {
        zs::Batch b = sampler.batch(zs::Split::Train, step, m, world.rank(), world.size(), micro);
        engine.backward(model->forward(b.x, b.y).loss);
        engine.step();
      }
      result["step"].push_back(step);
      result["loss"].push_back(engine.last_loss());
      result["rng"].push_back(at::rand({1}).item<double>());   // what dropout would draw
      if (std::find(save_at.begin(), save_at.end(), step + 1) != save_at.end())
        zs::save_checkpoint(engine, save_dir, "", {{"step", step + 1}, {"note", "ckpt_tiny"}}, {keep_last});
    }
    result["global_steps"] = engine.global_steps();
    zs::FullParameters full(engine);  // stage 3 keeps only shards between uses
    if (world.is_main()) {
      result["params"] = zs::testing::parameters_json(*model);
      std::ofstream(out_path) << result.dump();
    }
  } catch (const std::exception& e) {
    std::cerr << "ckpt_tiny: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
