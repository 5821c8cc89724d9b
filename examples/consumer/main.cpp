// Trains a small GPT with ZeroShard from a program outside its tree: a model, an Engine from a
// DeepSpeed JSON config, a few steps on generated text. Any torch::nn::Module trains the same way.
#include <iostream>

#include <torch/utils.h>

#include "zs/config/config.hpp"
#include "zs/data/batch_sampler.hpp"
#include "zs/data/synthetic_text.hpp"
#include "zs/data/token_data.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/models/gpt/gpt.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: zsrun --num_procs 2 my_trainer ds_config.json\n";
    return 2;
  }
  try {
    zs::World world = zs::init_distributed();  // zsrun, torchrun, mpirun or SLURM
    zs::Config config = zs::load_config(argv[1], world.size());

    zs::TokenData data = zs::TokenData::from_text(zs::synthetic_text(20000, 7));
    zs::GPTConfig gpt;
    gpt.n_layer = 2, gpt.n_head = 4, gpt.n_embd = 64, gpt.block_size = 32;
    gpt.vocab_size = data.vocab_size();
    torch::manual_seed(1234);  // the same initial weights on every rank
    zs::GPT model(gpt);
    zs::Engine engine(model, config, world);  // ZeRO stage, precision, optimizer from the config

    zs::GlobalBatchSampler sampler(data, gpt.block_size, /*seed=*/42);
    double first_loss = 0;
    const int steps = 40;
    for (int step = 0; step < steps; ++step) {
      for (int micro = 0; micro < config.gradient_accumulation_steps; ++micro) {
        zs::Batch b = sampler.batch(zs::Split::Train, step, micro, world.rank(), world.size(),
                                    config.train_micro_batch_size_per_gpu);
        engine.backward(model->forward(b.x.to(world.device), b.y.to(world.device)).loss);
        engine.step();  // acts on the accumulation boundary only
      }
      if (step == 0) first_loss = engine.last_loss();
    }
    if (world.is_main())
      std::cout << "my_trainer: loss " << first_loss << " -> " << engine.last_loss() << " in " << steps << " steps\n";
  } catch (const std::exception& e) {
    std::cerr << "my_trainer: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
