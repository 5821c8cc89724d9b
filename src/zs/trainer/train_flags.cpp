#include "zs/trainer/train_flags.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "zs/config/config_json.hpp"
#include "zs/dist/world.hpp"
#include "zs/trainer/flag_set.hpp"

namespace zs {

void add_train_flags(FlagSet& flags, TrainFlags& f) {
  // nanoGPT's train.py globals, in its order.
  flags.add("out_dir", f.out_dir, "checkpoint directory (global_step<N>/ tags and `latest`); none when empty");
  flags.add("eval_interval", f.eval_interval, "iterations between evaluations (0: none); checkpoints are saved there");
  flags.add("log_interval", f.log_interval, "iterations between step lines (sets the config's steps_per_print)");
  flags.add("eval_iters", f.eval_iters, "batches per split in an evaluation");
  flags.add("eval_only", f.eval_only, "evaluate once (after init_from) and exit");
  flags.add("always_save_checkpoint", f.always_save_checkpoint,
            "save at every evaluation; False: only when the val loss improved");
  flags.add("init_from", f.init_from,
            "scratch, resume (from out_dir), or weights: a .safetensors file (or a Hugging Face folder)");
  flags.add("wandb_log", f.wandb_log, "not available: ZeroShard has no Weights & Biases client");
  flags.add("wandb_project", f.wandb_project, "read from nanoGPT configs; unused");
  flags.add("wandb_run_name", f.wandb_run_name, "read from nanoGPT configs; unused");
  flags.add("dataset", f.dataset, "the folder data/<dataset> (nanoGPT's layout); default: generated text");
  flags.add("data", f.data, "a data folder (train.bin/val.bin) or a text file, by path");
  flags.add("gradient_accumulation_steps", f.gradient_accumulation_steps,
            f.accumulation_over_ranks
                ? "micro-steps per iteration over all ranks, as in nanoGPT (each rank does its share; 0: one per rank)"
                : "micro-steps per iteration on each rank, as DeepSpeed's gradient_accumulation_steps (0: one)");
  flags.add("batch_size", f.batch_size, "micro batch per rank");
  flags.add("learning_rate", f.learning_rate, "peak learning rate");
  flags.add("max_iters", f.max_iters, "total training iterations");
  flags.add("weight_decay", f.weight_decay, "");
  flags.add("beta1", f.beta1, "");
  flags.add("beta2", f.beta2, "");
  flags.add("grad_clip", f.grad_clip, "clip gradients at this global norm (0: off)");
  flags.add("decay_lr", f.decay_lr, "warm up, then cosine-decay the learning rate to min_lr");
  flags.add("warmup_iters", f.warmup_iters, "");
  flags.add("lr_decay_iters", f.lr_decay_iters, "");
  flags.add("min_lr", f.min_lr, "");
  flags.add("backend", f.backend, "collectives: ZeroShard uses NCCL on GPUs and MPI on CPUs (auto, nccl or mpi)");
  flags.add("device", f.device, "auto, cpu or cuda (each rank takes its own GPU)");
  flags.add("dtype", f.dtype, "auto: bfloat16 on GPUs, float32 on CPUs",
            {"auto", "float32", "bfloat16", "float16", "fp32", "bf16", "fp16"});
  flags.add("compile", f.compile, "only False: LibTorch has no torch.compile");
  flags.add("cuda_graph", f.cuda_graph,
            "replay each micro-step's forward and backward as CUDA graphs (GPUs, stages 0-2, fixed batch shapes): "
            "for small models, whose steps wait on kernel launches");
  flags.add("seed", f.seed, "");
  // ZeroShard's own.
  flags.add("deepspeed_config", f.deepspeed_config, "DeepSpeed JSON config; its \"auto\" values come from these flags");
  flags.add("zero_stage", f.zero_stage, "ZeRO stage (0-3) when no DeepSpeed config says");
  flags.add("activation_checkpointing", f.activation_checkpointing, "recompute each block's activations in backward");
  flags.add("save_interval", f.save_interval, "also save a checkpoint every N iterations (0: only at evaluations)");
  flags.add("keep_last", f.keep_last, "keep the newest K checkpoints in out_dir (0: all)");
  flags.add("resume", f.resume, "the same as --init_from=resume");
  flags.add("resume_tag", f.resume_tag, "resume from this checkpoint tag in out_dir instead of `latest`");
  flags.add("log_jsonl", f.log_jsonl, "append every step's numbers to this JSON-lines file (rank 0)");
}

namespace {

void require(bool ok, const FlagSet& flags, const std::string& name, const std::string& what) {
  if (ok) return;
  throw ConfigError(flags.describe(name) + ": " + what);
}

}  // namespace

void check_train_flags(const FlagSet& flags, TrainFlags& f) {
  require(f.max_iters >= 0, flags, "max_iters", "must be 0 or more");
  require(f.batch_size >= 1, flags, "batch_size", "must be at least 1");
  require(f.gradient_accumulation_steps >= 0, flags, "gradient_accumulation_steps",
          "must be 0 (one micro-step per rank) or more");
  require(f.eval_interval >= 0, flags, "eval_interval", "must be 0 (no evaluation) or more");
  require(f.eval_iters >= 1 || (f.eval_interval == 0 && !f.eval_only), flags, "eval_iters",
          "must be at least 1 to evaluate (or set --eval_interval=0 to not evaluate)");
  require(f.log_interval >= 1, flags, "log_interval", "must be at least 1");
  require(f.learning_rate > 0 && std::isfinite(f.learning_rate), flags, "learning_rate", "must be positive");
  // Against the schedule's peak once it is known (a DeepSpeed config's lr may stand in for
  // --learning_rate's default: the trainer checks it there); here against a given --learning_rate.
  require(f.min_lr >= 0 && (!flags.given("learning_rate") || f.min_lr <= f.learning_rate), flags, "min_lr",
          "must be between 0 and --learning_rate");
  require(f.weight_decay >= 0, flags, "weight_decay", "must be 0 or more");
  require(f.beta1 >= 0 && f.beta1 < 1, flags, "beta1", "must be in [0, 1)");
  require(f.beta2 >= 0 && f.beta2 < 1, flags, "beta2", "must be in [0, 1)");
  require(f.grad_clip >= 0, flags, "grad_clip", "must be 0 (off) or more");
  require(f.warmup_iters >= 0, flags, "warmup_iters", "must be 0 or more");
  require(!f.decay_lr || f.lr_decay_iters >= f.warmup_iters, flags, "lr_decay_iters",
          "must be at least --warmup_iters (" + std::to_string(f.warmup_iters) + ")");
  require(f.seed >= 0, flags, "seed", "must be 0 or more");
  require(f.zero_stage >= 0 && f.zero_stage <= 3, flags, "zero_stage", "must be 0, 1, 2 or 3");
  require(f.save_interval >= 0, flags, "save_interval", "must be 0 (only at evaluations) or more");
  require(f.keep_last >= 0, flags, "keep_last", "must be 0 (keep all) or more");
  require(!f.wandb_log, flags, "wandb_log",
          "ZeroShard has no Weights & Biases client; the step lines on stdout carry loss, lr, throughput and "
          "memory (set wandb_log to False; --wandb_log=False overrides a config file)");
  require(!f.compile, flags, "compile",
          "LibTorch has no torch.compile: ZeroShard runs the model eagerly (set compile to False or leave it out; "
          "--compile=False overrides a config file); --cuda_graph=True takes the launches out of small models' "
          "steps, as torch.compile's reduce-overhead mode does");
  require(f.backend == "auto" || f.backend == "nccl" || f.backend == "mpi", flags, "backend",
          "ZeroShard's ranks talk over NCCL on GPUs and MPI on CPUs; there is no gloo backend");
  if (f.device != "auto" && f.device != "cpu" && f.device != "cuda") {
    const std::string why = f.device.rfind("cuda:", 0) == 0
                                ? "each rank uses its own GPU (cuda:LOCAL_RANK); choose GPUs with CUDA_VISIBLE_DEVICES "
                                  "or zsrun --include, and write --device=cuda"
                                : "ZeroShard runs on CUDA GPUs or CPUs: auto, cpu or cuda";
    require(false, flags, "device", why);
  }
  if (f.dtype == "fp32") f.dtype = "float32";
  if (f.dtype == "bf16") f.dtype = "bfloat16";
  if (f.dtype == "fp16") f.dtype = "float16";
  require(!(!f.dataset.empty() && !f.data.empty()), flags, "data", "give --dataset (data/<name>) or --data (a path), not both");
  require(f.dataset.find('/') == std::string::npos, flags, "dataset",
          "is a name under data/ (nanoGPT's layout); pass a path as --data=" + f.dataset);

  // --resume and --resume_tag are ways to say --init_from=resume.
  const bool init_given = flags.given("init_from");
  if (f.resume || !f.resume_tag.empty()) {
    const std::string alias = f.resume ? "--resume" : "--resume_tag";
    require(!init_given || f.init_from == "resume", flags, "init_from", "contradicts " + alias + " (which resumes)");
    f.init_from = "resume";
  }
  require(!f.init_from.empty(), flags, "init_from", "must be scratch, resume, or weights to start from");
  require(f.init_from == "resume" || f.eval_only || f.max_iters > 0, flags, "max_iters",
          "must be at least 1 (use --eval_only to only evaluate)");
}

void resolve_accumulation(const FlagSet& flags, TrainFlags& f, int world_size) {
  if (f.gradient_accumulation_steps == 0) {
    f.accumulation_per_rank = 1;
    return;
  }
  if (!f.accumulation_over_ranks) {
    f.accumulation_per_rank = f.gradient_accumulation_steps;
    return;
  }
  // nanoGPT's DDP rule: the value is the total over ranks, each rank does its share.
  if (f.gradient_accumulation_steps % world_size != 0)
    require(false, flags, "gradient_accumulation_steps",
            "is the number of micro-steps per iteration over all " + std::to_string(world_size) +
                " ranks (as in nanoGPT) and must be a multiple of the world size (" + std::to_string(world_size) +
                ", " + std::to_string(2 * world_size) + ", ...; 0: one per rank)");
  f.accumulation_per_rank = f.gradient_accumulation_steps / world_size;
}

double nanogpt_lr(const TrainFlags& f, int64_t it) {
  if (!f.decay_lr) return f.learning_rate;
  if (it < f.warmup_iters) return f.learning_rate * double(it + 1) / double(f.warmup_iters + 1);
  if (it > f.lr_decay_iters) return f.min_lr;
  const double ratio = double(it - f.warmup_iters) / double(std::max<int64_t>(1, f.lr_decay_iters - f.warmup_iters));
  return f.min_lr + 0.5 * (1.0 + std::cos(M_PI * ratio)) * (f.learning_rate - f.min_lr);
}

std::string resolved_dtype(const TrainFlags& f, const World& world) {
  if (f.dtype != "auto") return f.dtype;
  return world.device.is_cuda() ? "bfloat16" : "float32";
}

Config make_train_config(const FlagSet& flags, const TrainFlags& f, const World& world, const AutoValues& extra_autos,
                         std::vector<std::string>& notes) {
  // A value set by a config file or a flag is explicit: a DeepSpeed config value contradicting it
  // is an error naming both.
  auto given = [&](const char* name) { return flags.origin(name); };
  const std::string precision = resolved_dtype(f, world);
  AutoValues autos = extra_autos;
  // Messages show a flag's value as it reads on the command line (--dtype float32); a value no
  // flag set comes from the flag's default.
  auto offer = [&](const char* path, nlohmann::json value, const char* name, std::string origin = "") {
    if (origin.empty()) origin = given(name);
    AutoValue v(std::move(value), origin, origin.empty() ? "" : flags.value_text(name));
    if (origin.empty()) v.origin = "default of --" + std::string(name);
    autos[path] = std::move(v);
  };
  std::string accumulation_origin = given("gradient_accumulation_steps");
  if (!accumulation_origin.empty() && world.size() > 1 && f.accumulation_over_ranks)
    accumulation_origin += " (" + std::to_string(f.gradient_accumulation_steps) + " over " + std::to_string(world.size()) +
                           " ranks)";
  offer("train_micro_batch_size_per_gpu", f.batch_size, "batch_size");
  offer("gradient_accumulation_steps", f.accumulation_per_rank, "gradient_accumulation_steps", accumulation_origin);
  if (!accumulation_origin.empty()) autos["gradient_accumulation_steps"].shown = std::to_string(f.accumulation_per_rank);
  offer("gradient_clipping", f.grad_clip, "grad_clip");
  offer("optimizer.params.lr", f.learning_rate, "learning_rate");
  offer("optimizer.params.betas", nlohmann::json::array({f.beta1, f.beta2}), given("beta1").empty() ? "beta2" : "beta1");
  autos["optimizer.params.eps"] = AutoValue(1e-8, "", "", "AdamW's default eps, as nanoGPT");
  offer("optimizer.params.weight_decay", f.weight_decay, "weight_decay");
  offer("bf16.enabled", precision == "bfloat16", "dtype");
  offer("fp16.enabled", precision == "float16", "dtype");
  offer("zero_optimization.stage", f.zero_stage, "zero_stage");

  nlohmann::json doc;
  std::string source = "<flags>";
  if (!f.deepspeed_config.empty()) {
    doc = load_config_json(f.deepspeed_config);  // refuses broken, huge, binary files and duplicate keys
    source = f.deepspeed_config;
    // A config without any batch size (a ZeRO snippet of DeepSpeed's tutorials) takes the flags'.
    if (doc.is_object() && !doc.contains("train_batch_size") && !doc.contains("train_micro_batch_size_per_gpu") &&
        !doc.contains("gradient_accumulation_steps")) {
      doc["train_micro_batch_size_per_gpu"] = "auto";
      doc["gradient_accumulation_steps"] = "auto";
    }
  } else {
    doc["train_micro_batch_size_per_gpu"] = "auto";
    doc["gradient_accumulation_steps"] = "auto";
    doc["gradient_clipping"] = "auto";
    doc["zero_optimization"] = {{"stage", "auto"}};
    if (precision == "bfloat16") doc["bf16"] = {{"enabled", true}};
    if (precision == "float16") doc["fp16"] = {{"enabled", true}};
  }
  if (doc.is_object()) {
    // How often the step line prints: --log_interval when given (or without a DeepSpeed config),
    // else the config's steps_per_print (DeepSpeed's default 10 when it has none).
    const bool has_steps = doc.contains("steps_per_print");
    if (f.deepspeed_config.empty()) {
      doc["steps_per_print"] = f.log_interval;
    } else if (flags.given("log_interval")) {
      if (has_steps && doc["steps_per_print"] != nlohmann::json(f.log_interval))
        notes.push_back("step lines every " + std::to_string(f.log_interval) + " iterations: " +
                        flags.origin("log_interval") + " replaces steps_per_print " + doc["steps_per_print"].dump() +
                        " of " + f.deepspeed_config);
      doc["steps_per_print"] = f.log_interval;
    } else {
      notes.push_back("step lines every " + (has_steps ? doc["steps_per_print"].dump() + " iterations (steps_per_print of " + f.deepspeed_config + ")"
                                                      : std::string("10 iterations (DeepSpeed's default steps_per_print)")) +
                      "; --log_interval sets it");
    }
    if (doc.contains("scheduler")) {
      // A config schedule replaces nanoGPT's; its "auto" values still come from nanoGPT's flags.
      // (DeepSpeed refuses a warmup of 0 steps; Hugging Face's Trainer offers at least 1.)
      offer("scheduler.params.warmup_num_steps", std::max<int64_t>(1, f.warmup_iters), "warmup_iters");
      offer("scheduler.params.total_num_steps", f.lr_decay_iters, "lr_decay_iters");
      offer("scheduler.params.warmup_max_lr", f.learning_rate, "learning_rate");
      autos["scheduler.params.warmup_min_lr"] = AutoValue(0.0, "", "", "0, as Hugging Face's Trainer");
      offer("scheduler.params.cos_min_ratio", f.min_lr / f.learning_rate, "min_lr");
    }
    if (!doc.contains("optimizer"))
      doc["optimizer"] = {{"type", "AdamW"}, {"params", {{"lr", "auto"}, {"betas", "auto"}, {"weight_decay", "auto"}}}};
  }
  return parse_config(doc.dump(), world.size(), autos, source);
}

}  // namespace zs
