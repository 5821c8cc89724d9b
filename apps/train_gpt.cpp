// train_gpt: nanoGPT's train.py on the ZeroShard engine.
//
//   train_gpt config/train_shakespeare_char.py --device=cpu --max_iters=2000
//   zsrun --num_gpus 2 build/bin/train_gpt --dataset=openwebtext --deepspeed_config=configs/ds_zero2.json
//
// nanoGPT's flags, defaults and config files (src/zs/trainer/train_flags.hpp); the loop, evals
// and checkpoints are the shared trainer's (src/zs/trainer/trainer.hpp). This file adds the GPT:
// its shape flags, its batches (random windows of the token data) and a text sample at the end.
#include <cstdio>

#include <torch/utils.h>

#include "zs/ckpt/file_io.hpp"
#include "zs/ckpt/module_weights.hpp"
#include "zs/data/batch_sampler.hpp"
#include "zs/engine/engine.hpp"
#include "zs/hf/hf_config.hpp"
#include "zs/hf/hf_load.hpp"
#include "zs/models/gpt/gpt.hpp"
#include "zs/monitor/format.hpp"
#include "zs/trainer/flag_set.hpp"
#include "zs/trainer/trainer.hpp"

namespace {

int run(int argc, char** argv) {
  zs::FlagSet flags("train_gpt", "Train a nanoGPT-style GPT with ZeRO (ZeroShard). Positional arguments are "
                                 "nanoGPT-style config files; every key is also a --key=value flag.");
  zs::TrainFlags train;
  zs::add_train_flags(flags, train);
  zs::GPTConfig gpt;  // nanoGPT's train.py defaults: GPT-2 124M without biases
  gpt.bias = false;
  int64_t sample_tokens = 300;
  flags.add("n_layer", gpt.n_layer, "");
  flags.add("n_head", gpt.n_head, "");
  flags.add("n_embd", gpt.n_embd, "");
  flags.add("block_size", gpt.block_size, "context length (tokens per sample)");
  flags.add("dropout", gpt.dropout, "");
  flags.add("bias", gpt.bias, "biases in Linear and LayerNorm layers");
  flags.add("vocab_size", gpt.vocab_size, "vocabulary of a token folder (default: its meta.pkl's, else 50304; text sets its own)");
  flags.add("sample_tokens", sample_tokens, "length of the text sample printed at the end (char-level data; 0: none)");
  if (auto code = flags.parse(argc, const_cast<const char* const*>(argv))) return *code;

  zs::Trainer trainer(flags, train);
  const nlohmann::json resumed = trainer.resume_state();
  trainer.adopt_model_args(flags, resumed, {"n_layer", "n_head", "n_embd", "block_size", "bias", "vocab_size"});
  if (resumed.is_object() && resumed.contains("model") && resumed["model"].contains("activation"))
    gpt.activation = resumed["model"]["activation"].get<std::string>();   // a fine-tuned GPT-2 keeps its GELU
  // --init_from=gpt2* or a Hugging Face GPT-2 folder: the checkpoint's shape, as nanoGPT's
  // from_pretrained takes it (biases on, its vocabulary and context, its GELU); dropout stays a flag.
  const std::string hf_folder = trainer.hf_folder();
  if (!hf_folder.empty()) {
    const std::string where = zs::join_path(hf_folder, "config.json");
    zs::GPTConfig pretrained;
    try {
      pretrained = zs::gpt_config_from_hf(zs::read_hf_config(hf_folder), where);
    } catch (const zs::CheckpointError& e) {
      throw zs::ConfigError(e.what());
    }
    zs::adopt_args(flags, {{"n_layer", pretrained.n_layer}, {"n_head", pretrained.n_head}, {"n_embd", pretrained.n_embd},
                           {"block_size", pretrained.block_size}, {"bias", true}, {"vocab_size", pretrained.vocab_size}},
                   {"n_layer", "n_head", "n_embd", "block_size", "bias", "vocab_size"}, where,
                   "a pretrained GPT-2 keeps its shape");
    gpt.activation = pretrained.activation;
  }
  const zs::TokenData data = trainer.load_token_data(flags.given("vocab_size") || !hf_folder.empty() ? gpt.vocab_size : 0);
  if (hf_folder.empty()) {
    gpt.vocab_size = data.vocab_size();
  } else if (data.vocab_size() > gpt.vocab_size) {
    throw zs::ConfigError("the data's vocabulary (" + std::to_string(data.vocab_size()) + ", " + data.source() +
                          ") is larger than the pretrained model's " + std::to_string(gpt.vocab_size));
  }
  try {
    gpt.validate();
  } catch (const std::invalid_argument& e) {
    throw zs::ConfigError(std::string("model: ") + e.what());
  }
  zs::World& world = trainer.world();

  // From scratch on GPUs the model takes no host memory or time: built on the meta device, each
  // parameter is made and initialised on the GPU by the engine (at stage 3 one block at a time,
  // straight into its shard). Elsewhere it is built on the host: CPU runs keep the weights they
  // always had, and loaded weights go over a host model.
  const bool on_meta = train.init_from == "scratch" && world.device.is_cuda();
  torch::manual_seed(uint64_t(train.seed));  // the same initial weights on every rank
  zs::GPT model(gpt, on_meta ? c10::Device(c10::kMeta) : c10::Device(c10::kCPU));
  const zs::GlobalBatchSampler sampler = [&] {
    try {
      return zs::GlobalBatchSampler(data, gpt.block_size, uint64_t(train.seed));
    } catch (const std::runtime_error& e) {  // a split shorter than one block
      throw zs::ConfigError(e.what());
    }
  }();

  zs::TrainerModel m;
  m.module = model.ptr();
  m.batch = [&](const zs::BatchRef& r) {
    return sampler.batch(r.split, r.step, r.micro_step, r.rank, r.world_size, r.micro_batch).on_device(world.device);
  };
  m.loss = [&](const std::vector<at::Tensor>& b) { return model->forward(b[0], b[1]).loss; };
  m.tokens_per_sample = gpt.block_size;
  m.flops_per_token = model->flops_per_token(gpt.block_size);
  m.decay = [](const std::string&, const at::Tensor& p) { return p.dim() >= 2; };  // nanoGPT: matrices decay
  m.load_weights = [&](const std::string& path) { zs::load_module_weights(*model, path); };
  m.load_hf_folder = [&](const std::string& dir, zs::Engine& engine) { zs::load_hf_weights(engine, dir); };
  if (on_meta) m.meta_init = [&model](const std::string& name, at::Tensor& value) { model->init_parameter(name, value); };
  zs::add_model_auto_values(m.autos, gpt.n_embd);  // "auto" bucket sizes from the hidden size, as Hugging Face's Trainer
  m.model_args = {{"n_layer", gpt.n_layer}, {"n_head", gpt.n_head}, {"n_embd", gpt.n_embd},
                  {"block_size", gpt.block_size}, {"bias", gpt.bias}, {"vocab_size", gpt.vocab_size},
                  {"activation", gpt.activation}};
  const int64_t params = model->num_params();  // nanoGPT's count: without the position embeddings
  m.description = zs::printf_string("data: %s (vocab %lld) | model: GPT, ", data.source().c_str(), (long long)data.vocab_size()) +
                  (params >= 100000 ? zs::printf_string("%.2fM", params / 1e6) : std::to_string(params)) + " parameters";
  trainer.run(m);

  if (sample_tokens > 0 && !data.vocab() && flags.given("sample_tokens"))
    trainer.print("no sample: " + data.source() + " has no character vocabulary to decode one with");
  // A sample decodes with the data's characters, when the model's vocabulary is theirs.
  if (sample_tokens > 0 && data.vocab() && data.vocab()->size() == gpt.vocab_size && !train.eval_only) {
    zs::FullParameters full(trainer.engine());  // stage 3: every rank gathers, rank 0 samples
    if (world.is_main()) {
      const zs::CharVocab& vocab = *data.vocab();
      at::Tensor prompt = vocab.encode_tensor(vocab.contains('\n') ? "\n" : std::string(1, ' ')).unsqueeze(0);
      torch::manual_seed(uint64_t(train.seed));  // seeds the generator of the model's device too
      at::Tensor out = model->generate(prompt.to(world.device), sample_tokens, 0.8, 20);
      std::printf("[train_gpt] sample:\n%s\n", vocab.decode(out.cpu()).c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return zs::trainer_main("train_gpt", [&] { return run(argc, argv); });
}
