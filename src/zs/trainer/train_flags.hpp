// The flags every reference trainer shares, with nanoGPT's names and defaults (its train.py
// globals), plus ZeroShard's own (DeepSpeed config, ZeRO stage, checkpoint keeping). A trainer
// registers these with add_train_flags and its model's flags beside them.
#pragma once

#include <cstdint>
#include <string>

#include "zs/config/config.hpp"

namespace zs {

class FlagSet;
struct World;

struct TrainFlags {
  // I/O (nanoGPT)
  std::string out_dir;                       // nanoGPT: 'out'; here no checkpoints unless named
  int64_t eval_interval = 2000;
  int64_t log_interval = 1;
  int64_t eval_iters = 200;
  bool eval_only = false;
  bool always_save_checkpoint = true;
  std::string init_from = "scratch";        // scratch | resume | a weights file or folder | gpt2*
  // wandb (nanoGPT): accepted so nanoGPT configs read as they are; wandb_log=True is refused
  bool wandb_log = false;
  std::string wandb_project = "owt", wandb_run_name = "gpt2";
  // data
  std::string dataset;                       // nanoGPT: data/<dataset>; empty: see `data`
  std::string data;                          // ZeroShard: a data folder or a text file
  int64_t gradient_accumulation_steps = 0;   // over all ranks, as nanoGPT; 0: one per rank
  bool accumulation_over_ranks = true;       // false: per rank, as DeepSpeed counts it (train_cnn)
  int64_t batch_size = 12;                   // micro batch per rank
  // optimizer (AdamW)
  double learning_rate = 6e-4;
  int64_t max_iters = 600000;
  double weight_decay = 1e-1, beta1 = 0.9, beta2 = 0.95, grad_clip = 1.0;
  // learning rate decay (nanoGPT: linear warmup, cosine decay to min_lr)
  bool decay_lr = true;
  int64_t warmup_iters = 2000, lr_decay_iters = 600000;
  double min_lr = 6e-5;
  // system
  std::string backend = "auto";              // nanoGPT's 'nccl'; ZeroShard picks NCCL (GPU) or MPI (CPU)
  std::string device = "auto";
  std::string dtype = "auto";                // bfloat16 on GPUs, float32 on CPUs
  bool compile = false;                      // refused when True: LibTorch has no torch.compile
  bool cuda_graph = false;                   // capture the training forward and backward as CUDA graphs
  int64_t seed = 1337;
  // ZeroShard
  std::string deepspeed_config;
  int zero_stage = 0;
  bool activation_checkpointing = false;
  int64_t save_interval = 0;                 // also save every N iterations (0: only at evals)
  int keep_last = 2;                         // keep the newest K checkpoints (0: all)
  bool resume = false;                       // the same as --init_from=resume
  std::string resume_tag;                    // resume from this tag instead of `latest`
  std::string log_jsonl;                     // a JSON-lines log of every step (rank 0); empty: none

  // Micro-steps per iteration on each rank (gradient_accumulation_steps / world size).
  int64_t accumulation_per_rank = 1;
};

// Registers the shared flags on `flags`, writing into `f`.
void add_train_flags(FlagSet& flags, TrainFlags& f);

// Checks the values after parsing (negative sizes, max_iters -1, eval_iters 0 with evaluation,
// wandb_log, compile, ...) and folds aliases (--resume, --resume_tag). Throws ConfigError naming
// the flag. Needs no world.
void check_train_flags(const FlagSet& flags, TrainFlags& f);

// After the world is known: gradient_accumulation_steps split over ranks (nanoGPT's rule).
void resolve_accumulation(const FlagSet& flags, TrainFlags& f, int world_size);

// nanoGPT's schedule: linear warmup, cosine decay to min_lr at lr_decay_iters, then min_lr.
double nanogpt_lr(const TrainFlags& f, int64_t it);

// The DeepSpeed config of the run: the user's JSON (its "auto" values from the flags), or one made
// from the flags. `extra_autos` are the program's own (a model's hidden size, ...). `notes` gets
// the decisions worth printing (how --log_interval and steps_per_print relate).
Config make_train_config(const FlagSet& flags, const TrainFlags& f, const World& world, const AutoValues& extra_autos,
                         std::vector<std::string>& notes);

// "float32", "bfloat16" or "float16" for this world's device.
std::string resolved_dtype(const TrainFlags& f, const World& world);

}  // namespace zs
