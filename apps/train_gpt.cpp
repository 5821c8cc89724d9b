// train_gpt: nanoGPT's training loop on the ZeroShard engine.
//
//   zsrun --num_gpus 2 build/apps/train_gpt --data shakespeare.txt --deepspeed_config ds_zero2.json
//
// Model and training flags keep nanoGPT's names and defaults. --data takes nanoGPT's prepared
// folder (train.bin/val.bin) or a plain text file (char-level, 90/10 split); without it the run
// uses generated English-like text, so it needs no download. A DeepSpeed config is optional:
// its "auto" values come from these flags, and a config value that contradicts a flag given on
// the command line is an error naming both.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "zs/ckpt/checkpoint.hpp"
#include "zs/ckpt/module_weights.hpp"
#include "zs/config/config.hpp"
#include "zs/data/batch_sampler.hpp"
#include "zs/data/synthetic_text.hpp"
#include "zs/data/token_data.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/models/gpt.hpp"

namespace {

struct Flags {
  // data and run
  std::string data;             // empty: generated text
  std::string deepspeed_config;
  std::string device = "auto";
  std::string dtype = "auto";   // nanoGPT: bfloat16 where supported
  int64_t seed = 1337;
  int64_t vocab_size = 50304;   // for token folders
  // model (nanoGPT's defaults: GPT-2 124M)
  int64_t n_layer = 12, n_head = 12, n_embd = 768, block_size = 1024;
  double dropout = 0.0;
  bool bias = false;
  // training
  int64_t batch_size = 12, gradient_accumulation_steps = 1, max_iters = 600000;
  int64_t eval_interval = 2000, eval_iters = 200, log_interval = 1;
  double learning_rate = 6e-4, weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, grad_clip = 1.0;
  bool decay_lr = true;
  int64_t warmup_iters = 2000, lr_decay_iters = 600000;
  double min_lr = 6e-5;
  int zero_stage = 0;
  bool activation_checkpointing = false;
  int64_t sample_tokens = 300;
  std::string sample_prompt = "\n";
  // checkpoints
  std::string out_dir, init_from;
  int64_t save_interval = 0;
  int keep_last = 0;
  bool resume = false;
};

// nanoGPT's schedule: linear warmup, cosine decay to min_lr at lr_decay_iters, then min_lr.
double nanogpt_lr(const Flags& f, int64_t it) {
  if (!f.decay_lr) return f.learning_rate;
  if (it < f.warmup_iters) return f.learning_rate * double(it + 1) / double(f.warmup_iters + 1);
  if (it > f.lr_decay_iters) return f.min_lr;
  const double ratio = double(it - f.warmup_iters) / double(std::max<int64_t>(1, f.lr_decay_iters - f.warmup_iters));
  return f.min_lr + 0.5 * (1.0 + std::cos(M_PI * ratio)) * (f.learning_rate - f.min_lr);
}

std::string precision_of(const Flags& f, const zs::World& world) {
  if (f.dtype != "auto") return f.dtype;
  return world.device.is_cuda() ? "bfloat16" : "float32";
}

// The config the run uses: the user's DeepSpeed JSON, or one made from the flags. Sections the
// user left out that a trainer must have (optimizer) come from the flags, as a client optimizer
// would in DeepSpeed.
zs::Config make_config(const Flags& f, const CLI::App& app, const zs::World& world) {
  auto given = [&](const char* flag) { return app.count(flag) > 0 ? std::string(flag) : std::string(); };
  const std::string precision = precision_of(f, world);
  zs::AutoValues autos;
  autos["train_micro_batch_size_per_gpu"] = {f.batch_size, given("--batch_size")};
  autos["gradient_accumulation_steps"] = {f.gradient_accumulation_steps, given("--gradient_accumulation_steps")};
  autos["gradient_clipping"] = {f.grad_clip, given("--grad_clip")};
  autos["optimizer.params.lr"] = {f.learning_rate, given("--learning_rate")};
  autos["optimizer.params.betas"] = {nlohmann::json::array({f.beta1, f.beta2}),
                                     !given("--beta1").empty() ? "--beta1" : given("--beta2")};
  autos["optimizer.params.weight_decay"] = {f.weight_decay, given("--weight_decay")};
  autos["bf16.enabled"] = {precision == "bfloat16", given("--dtype")};
  autos["fp16.enabled"] = {precision == "float16", given("--dtype")};
  autos["zero_optimization.stage"] = {f.zero_stage, given("--zero_stage")};

  nlohmann::json doc;
  std::string source = "<flags>";
  if (!f.deepspeed_config.empty()) {
    std::ifstream in(f.deepspeed_config);
    if (!in) throw zs::ConfigError("cannot open config file " + f.deepspeed_config);
    std::stringstream text;
    text << in.rdbuf();
    try {
      doc = nlohmann::json::parse(text.str(), nullptr, true, /*ignore_comments=*/true);
    } catch (const nlohmann::json::parse_error&) {
      return zs::parse_config(text.str(), world.size(), autos, f.deepspeed_config);  // reports the syntax error
    }
    source = f.deepspeed_config;
  } else {
    doc["train_micro_batch_size_per_gpu"] = "auto";
    doc["gradient_accumulation_steps"] = "auto";
    doc["gradient_clipping"] = "auto";
    doc["zero_optimization"] = {{"stage", "auto"}};
    doc["steps_per_print"] = f.log_interval;
    if (precision == "bfloat16") doc["bf16"] = {{"enabled", true}};
    if (precision == "float16") doc["fp16"] = {{"enabled", true}};
  }
  if (doc.is_object() && doc.contains("scheduler")) {
    // A config schedule replaces nanoGPT's; its "auto" values still come from nanoGPT's flags.
    autos["scheduler.params.warmup_num_steps"] = {f.warmup_iters, given("--warmup_iters")};
    autos["scheduler.params.total_num_steps"] = {f.lr_decay_iters, given("--lr_decay_iters")};
    autos["scheduler.params.warmup_max_lr"] = {f.learning_rate, given("--learning_rate")};
    autos["scheduler.params.cos_min_ratio"] = {f.min_lr / f.learning_rate, given("--min_lr")};
  }
  if (doc.is_object() && !doc.contains("optimizer"))
    doc["optimizer"] = {{"type", "AdamW"}, {"params", {{"lr", "auto"}, {"betas", "auto"}, {"weight_decay", "auto"}}}};
  return zs::parse_config(doc.dump(), world.size(), autos, source);
}

// Mean loss over eval_iters batches per split, averaged over ranks (nanoGPT's estimate_loss).
std::pair<double, double> estimate_loss(zs::GPT& model, const zs::GlobalBatchSampler& sampler, const Flags& f,
                                        zs::World& world, int64_t micro) {
  torch::NoGradGuard no_grad;
  model->eval();
  double out[2];
  for (int s = 0; s < 2; ++s) {
    const zs::Split split = s == 0 ? zs::Split::Train : zs::Split::Val;
    at::Tensor total = at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(world.device));
    for (int64_t k = 0; k < f.eval_iters; ++k) {
      // Eval batches come from their own seeded stream, distinct from training steps.
      zs::Batch b = sampler.batch(split, 1000000000 + k, 0, world.rank(), world.size(), micro);
      total += model->forward(b.x.to(world.device), b.y.to(world.device)).loss;
    }
    total /= double(f.eval_iters);
    world.comm->all_reduce(total, zs::ReduceOp::avg)->wait();
    out[s] = total.item<double>();
  }
  model->train();
  return {out[0], out[1]};
}

int run(int argc, char** argv) {
  CLI::App app{"Train a nanoGPT-style GPT with ZeRO (ZeroShard)"};
  Flags f;
  app.add_option("--data", f.data, "nanoGPT data folder (train.bin/val.bin) or a text file; default: generated text");
  app.add_option("--deepspeed_config", f.deepspeed_config, "DeepSpeed JSON config");
  app.add_option("--device", f.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_option("--dtype", f.dtype, "float32, bfloat16 or float16 (auto: bfloat16 on GPU, float32 on CPU)")
      ->check(CLI::IsMember({"auto", "float32", "bfloat16", "float16"}));
  app.add_option("--seed", f.seed);
  app.add_option("--vocab_size", f.vocab_size, "vocabulary of a token folder");
  app.add_option("--n_layer", f.n_layer);
  app.add_option("--n_head", f.n_head);
  app.add_option("--n_embd", f.n_embd);
  app.add_option("--block_size", f.block_size);
  app.add_option("--dropout", f.dropout);
  app.add_option("--bias", f.bias);
  app.add_option("--batch_size", f.batch_size, "micro batch per rank");
  app.add_option("--gradient_accumulation_steps", f.gradient_accumulation_steps);
  app.add_option("--max_iters", f.max_iters);
  app.add_option("--eval_interval", f.eval_interval);
  app.add_option("--eval_iters", f.eval_iters);
  app.add_option("--log_interval", f.log_interval, "steps between log lines (steps_per_print)");
  app.add_option("--learning_rate", f.learning_rate);
  app.add_option("--weight_decay", f.weight_decay);
  app.add_option("--beta1", f.beta1);
  app.add_option("--beta2", f.beta2);
  app.add_option("--grad_clip", f.grad_clip, "clip gradients at this global norm (0: off)");
  app.add_option("--decay_lr", f.decay_lr);
  app.add_option("--warmup_iters", f.warmup_iters);
  app.add_option("--lr_decay_iters", f.lr_decay_iters);
  app.add_option("--min_lr", f.min_lr);
  app.add_option("--zero_stage", f.zero_stage, "ZeRO stage when the config has none (0-3)");
  app.add_flag("--activation_checkpointing", f.activation_checkpointing, "recompute each block's activations in backward");
  app.add_option("--sample_tokens", f.sample_tokens, "length of the text sample printed at the end (0: none)");
  app.add_option("--out_dir", f.out_dir, "checkpoint directory: saved at the end and every --save_interval iterations");
  app.add_option("--save_interval", f.save_interval, "iterations between checkpoints (0: only at the end)");
  app.add_option("--keep_last", f.keep_last, "keep only the newest K checkpoints (0: all)");
  app.add_flag("--resume", f.resume, "continue from the latest checkpoint in --out_dir");
  app.add_option("--init_from", f.init_from, "start from these weights (a consolidated .safetensors file)");
  CLI11_PARSE(app, argc, argv);
  if (f.resume && f.out_dir.empty()) throw zs::ConfigError("--resume needs --out_dir");

  const auto preference = f.device == "cpu"    ? zs::DevicePreference::cpu
                          : f.device == "cuda" ? zs::DevicePreference::cuda
                                               : zs::DevicePreference::automatic;
  zs::World world = zs::init_distributed(preference);
  zs::Config config = make_config(f, app, world);

  zs::TokenData data = f.data.empty() ? zs::TokenData::from_text(zs::synthetic_text(1 << 20, 1), 0.9, "generated text")
                                      : zs::TokenData::load(f.data, f.vocab_size);
  zs::GPTConfig gpt;
  gpt.n_layer = f.n_layer;
  gpt.n_head = f.n_head;
  gpt.n_embd = f.n_embd;
  gpt.block_size = f.block_size;
  gpt.dropout = f.dropout;
  gpt.bias = f.bias;
  gpt.vocab_size = data.vocab_size();
  gpt.validate();

  torch::manual_seed(f.seed);  // the same initial weights on every rank
  zs::GPT model(gpt);
  if (!f.init_from.empty()) zs::load_module_weights(*model, f.init_from);
  zs::EngineOptions options;
  options.decay = [](const std::string&, const at::Tensor& p) { return p.dim() >= 2; };
  options.tokens_per_sample = gpt.block_size;
  options.flops_per_token = model->flops_per_token(gpt.block_size);
  options.total_steps = f.max_iters;
  options.activation_checkpointing = f.activation_checkpointing;
  zs::Engine engine(model, config, world, options);
  if (!config.scheduler) engine.set_lr_schedule([f](int64_t step) { return nanogpt_lr(f, step); });
  torch::manual_seed(f.seed + world.rank());  // dropout differs per rank, as in nanoGPT

  if (world.is_main())
    std::printf("[train_gpt] data: %s (vocab %lld) | model: %.2fM parameters | %lld iterations\n",
                data.source().c_str(), (long long)data.vocab_size(), model->num_params() / 1e6,
                (long long)f.max_iters);

  zs::GlobalBatchSampler sampler(data, gpt.block_size, uint64_t(f.seed));
  const int64_t micro = config.train_micro_batch_size_per_gpu;
  double best_val = INFINITY;
  int64_t best_step = -1, start_iter = 0;
  if (f.resume) {   // the sampler is a pure function of the step: iteration i sees the same batches
    const nlohmann::json client = zs::load_checkpoint(engine, f.out_dir);
    start_iter = client.at("iter").get<int64_t>();
    if (client.contains("best_val")) best_val = client["best_val"], best_step = client["best_step"];
    if (world.is_main()) std::printf("[train_gpt] resumed from %s at iteration %lld\n", f.out_dir.c_str(), (long long)start_iter);
  }
  for (int64_t iter = start_iter; iter <= f.max_iters; ++iter) {
    if (f.eval_interval > 0 && (iter % f.eval_interval == 0 || iter == f.max_iters)) {
      auto [train_loss, val_loss] = estimate_loss(model, sampler, f, world, micro);
      if (val_loss < best_val) best_val = val_loss, best_step = iter;
      if (world.is_main()) std::printf("[train_gpt] step %lld: train loss %.4f, val loss %.4f\n", (long long)iter, train_loss, val_loss);
    }
    if (iter == f.max_iters) break;
    for (int64_t m = 0; m < config.gradient_accumulation_steps; ++m) {
      zs::Batch b = sampler.batch(zs::Split::Train, iter, m, world.rank(), world.size(), micro);
      engine.backward(model->forward(b.x.to(world.device), b.y.to(world.device)).loss);
      engine.step();
    }
    if (!f.out_dir.empty() && (iter + 1 == f.max_iters || (f.save_interval > 0 && (iter + 1) % f.save_interval == 0))) {
      nlohmann::json client = {{"iter", iter + 1}};
      if (best_step >= 0) client["best_val"] = best_val, client["best_step"] = best_step;
      const std::string tag = zs::save_checkpoint(engine, f.out_dir, "", client, {f.keep_last});
      if (world.is_main()) std::printf("[train_gpt] saved checkpoint %s/%s\n", f.out_dir.c_str(), tag.c_str());
    }
  }
  if (world.is_main() && best_step >= 0)
    std::printf("[train_gpt] best val loss %.4f at step %lld\n", best_val, (long long)best_step);
  if (f.sample_tokens > 0 && data.vocab()) {
    zs::FullParameters full(engine);  // stage 3: every rank gathers, rank 0 samples
    if (world.is_main()) {
      const zs::CharVocab& vocab = *data.vocab();
      at::Tensor prompt = vocab.encode_tensor(vocab.contains('\n') ? "\n" : std::string(1, ' ')).unsqueeze(0);
      // The sampling generator lives on the model's device; torch::manual_seed seeds it.
      torch::manual_seed(f.seed);
      at::Tensor out = model->generate(prompt.to(world.device), f.sample_tokens, 0.8, 20);
      std::printf("[train_gpt] sample:\n%s\n", vocab.decode(out.cpu()).c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const zs::ConfigError& e) {
    std::fprintf(stderr, "train_gpt: config error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_gpt: error: %s\n", e.what());
    return 1;
  }
}
