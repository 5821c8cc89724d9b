// The training loop the reference trainers share (train_gpt, train_llama, ...): nanoGPT's
// train.py on the engine. A program registers its model flags beside the shared ones, builds its
// model and batches, and hands them over:
//
//   zs::FlagSet flags("train_gpt", "...");
//   zs::TrainFlags train;  zs::add_train_flags(flags, train);
//   flags.add("n_layer", n_layer, "");                      // the model's own flags
//   if (auto code = flags.parse(argc, argv)) return *code;
//   zs::Trainer trainer(flags, train);                      // checks flags, starts the world
//   nlohmann::json saved = trainer.resume_state();          // the model args a resume must use
//   ... build the model (same seed on every rank) and its batches ...
//   zs::TrainerModel m{...};                                // module, micro-batch loss, throughput
//   trainer.run(m);                                         // init_from, resume, iterations, evals, checkpoints
//
// What run() does, as nanoGPT: evaluate every eval_interval iterations (mean loss over eval_iters
// batches per split, averaged over ranks) and at the end; save a checkpoint there when
// always_save_checkpoint or the val loss improved; with eval_only, evaluate once and stop. Plus
// ZeroShard's: a DeepSpeed config (its "auto" values from the flags), --save_interval,
// --keep_last, --resume_tag, and a resume that names the sound checkpoints when `latest` is not.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include "zs/config/config.hpp"
#include "zs/data/token_data.hpp"
#include "zs/dist/world.hpp"
#include "zs/trainer/train_flags.hpp"
#include "zs/zero/param_group.hpp"

namespace zs {

class Engine;
class FlagSet;

// One micro batch of this rank: the `micro_step`-th of iteration `step` in `split`. Evaluation
// batches come from their own stream (step = kEvalStream + k).
struct BatchRef {
  Split split = Split::Train;
  int64_t step = 0;
  int64_t micro_step = 0;
  int rank = 0;
  int world_size = 1;
  int64_t micro_batch = 1;
};
inline constexpr int64_t kEvalStream = 1000000000;

// What a program plugs into the loop.
struct TrainerModel {
  // Built on the host, the same on every rank. The trainer keeps it alive for its engine.
  std::shared_ptr<torch::nn::Module> module;
  // One micro batch of this rank as tensors on the world's device ({tokens, targets}, {images,
  // labels}), and the forward of such a batch: its mean loss (a 0-dim tensor on that device). Every
  // training batch has the same shapes (--cuda_graph captures the loss of one and replays it).
  std::function<std::vector<at::Tensor>(const BatchRef&)> batch;
  std::function<at::Tensor(const std::vector<at::Tensor>& batch)> loss;
  int64_t tokens_per_sample = 0;           // sequence length; 0 for models without tokens (samples/s only)
  std::string sample_name = "samples";     // what the step lines count then ("images")
  double flops_per_token = 0;              // for MFU; 0: none
  // Parameters without weight decay return false (nanoGPT: biases and norms). Unset: all decay.
  std::function<bool(const std::string& name, const at::Tensor& param)> decay;
  AutoValues autos;                        // the program's own "auto" offers (hidden size, ...)
  // At every evaluation, after the losses: further metrics (a CNN's top-1/top-5 accuracy over its
  // validation set) as a line for rank 0 to print. Collective; run in eval mode without gradients.
  std::function<std::string()> evaluate;
  // --init_from=<file>: loads a weights file (safetensors) into the module.
  std::function<void(const std::string& path)> load_weights;
  // --init_from=<folder> of a Hugging Face model (config.json + safetensors), called once the
  // engine exists, so the weights can go straight into its shards (zs/hf/hf_load.hpp). Unset: refused.
  std::function<void(const std::string& dir, Engine& engine)> load_hf_folder;
  // A module built on the meta device (no memory until the engine makes it on each rank's device,
  // one unit at a time): how each parameter gets its value (EngineOptions::meta_init).
  MetaInit meta_init;
  nlohmann::json model_args;               // saved in checkpoints, returned by resume_state()
  std::string description;                 // "GPT, 10.65M parameters": printed at start
};

class Trainer {
 public:
  // Checks the flags, starts the world (init_distributed) and prints the start-up notes on rank 0.
  Trainer(const FlagSet& flags, TrainFlags& f);
  ~Trainer();

  World& world() { return world_; }
  const TrainFlags& flags() const { return f_; }
  // "[train_gpt] " + text on rank 0.
  void print(const std::string& text) const;

  // When resuming: the client state of the checkpoint that will be loaded (its "model" holds the
  // model args of the saving run, as nanoGPT keeps model_args in ckpt.pt); null otherwise.
  // Collective. Throws ConfigError listing the checkpoints when there is none to resume from.
  nlohmann::json resume_state();

  // The Hugging Face model folder --init_from names, for the program to read its config.json
  // before building the model: a folder with config.json, or for gpt2, gpt2-medium, gpt2-large
  // and gpt2-xl (nanoGPT's names) the copy in the local Hugging Face cache. "" otherwise.
  std::string hf_folder() const;

  // The training data the flags name: --dataset NAME (data/NAME: train.bin/val.bin, or input.txt
  // read char-level), --data PATH, or generated text. `vocab_size` of a token folder; 0: its
  // meta.pkl's, else 50304 (as nanoGPT). Bad paths and files are ConfigErrors.
  TokenData load_token_data(int64_t vocab_size) const;

  // The run: config, engine, init_from / resume, iterations, evaluations, checkpoints.
  void run(TrainerModel& model);

  Engine& engine() { return *engine_; }
  const Config& config() const { return config_; }
  double best_val_loss() const { return best_val_; }

  // A resumed run keeps the saved model's shape, as nanoGPT takes n_layer, n_head, ... from its
  // ckpt.pt: sets each of `names` from `client_state`["model"], unless a flag or config file gave
  // another value (a ConfigError naming both).
  void adopt_model_args(FlagSet& flags, const nlohmann::json& client_state, const std::vector<std::string>& names) const;

 private:
  std::pair<double, double> estimate_loss(TrainerModel& m);
  void save(int64_t iter, const TrainerModel& m);
  // Loads --init_from's weights file into the module; returns the Hugging Face folder to load
  // into the engine once it exists ("" when there is none).
  std::string init_weights(TrainerModel& m);
  int64_t resume(TrainerModel& m);

  const FlagSet& flags_;
  TrainFlags& f_;
  World world_;
  Config config_;
  std::shared_ptr<torch::nn::Module> module_;   // outlives engine_, which refers to it
  std::unique_ptr<Engine> engine_;
  // The training micro-step's loss: the model's, or its CUDA-graph replay (--cuda_graph,
  // engine/graphed_loss.hpp).
  std::function<at::Tensor(const std::vector<at::Tensor>&)> train_loss_;
  std::string resume_tag_;          // chosen by resume_state()
  nlohmann::json resume_client_;
  double best_val_;
  int64_t best_step_ = -1;
  int64_t last_saved_ = -1;
};

// Sets each flag of `names` from `args` (a JSON object of values; names it lacks are skipped) on
// behalf of `where` ("the checkpoint out/global_step500", "gpt2/config.json"), unless a flag or a
// config file gave another value: then a ConfigError naming both and saying `why`.
void adopt_args(FlagSet& flags, const nlohmann::json& args, const std::vector<std::string>& names,
                const std::string& where, const std::string& why);

// main() of a trainer: runs `body`, and turns exceptions into a message and an exit code: 2 for a
// bad flag, config or input (ConfigError: the same on every rank, so rank 0 prints it and the
// others wait to be stopped with the job; 3 s later they print it too); 1 otherwise, every rank.
int trainer_main(const char* program, const std::function<int()>& body);

}  // namespace zs
