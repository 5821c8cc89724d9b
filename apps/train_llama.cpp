// train_llama: Llama models (Hugging Face's LlamaForCausalLM) on the ZeroShard engine, with
// train_gpt's nanoGPT flags and habits (the shared trainer, src/zs/trainer/trainer.hpp).
//
//   train_llama --init_from=models/TinyLlama-1.1B --data=corpus.txt --max_iters=200 --export_hf=out/hf
//   zsrun --num_gpus 2 build/bin/train_llama --model=llama2-7b --dataset=openwebtext_llama \
//       --zero_stage=3 --activation_checkpointing      # random initialisation
//   train_llama --init_from=models/TinyLlama-1.1B --data=tokens/ --eval_only
//
// The model comes from --init_from (a Hugging Face folder: its config.json and weights, loaded
// straight into each rank's shards), from a checkpoint (--init_from=resume: the config saved with
// it), or from a shape preset (--model) and/or shape flags named as in config.json (random
// initialisation). Data: a token folder (train.bin/val.bin, uint16 or uint32 with meta.json), or
// a text file through the model's own tokenizer.model (--tokenizer, or the one in the
// --init_from folder; tokenizer.json vocabularies go through scripts/prepare_tokens.py first).
// --export_hf writes the trained model as a Hugging Face folder at the end.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "zs/ckpt/file_io.hpp"
#include "zs/ckpt/module_weights.hpp"
#include "zs/data/batch_sampler.hpp"
#include "zs/data/sentencepiece_tokenizer.hpp"
#include "zs/engine/engine.hpp"
#include "zs/hf/hf_config.hpp"
#include "zs/hf/hf_directory_writer.hpp"
#include "zs/hf/hf_export.hpp"
#include "zs/hf/hf_load.hpp"
#include "zs/hf/hf_weight_files.hpp"
#include "zs/models/llama/llama.hpp"
#include "zs/monitor/format.hpp"
#include "zs/trainer/flag_set.hpp"
#include "zs/trainer/trainer.hpp"

namespace {

struct ModelFlags {
  std::string model;   // a preset
  zs::LlamaConfig shape;   // the shape flags' targets (used only where given)
  int64_t block_size = 1024;
  double dropout = 0.0;
  std::string tokenizer, export_hf, export_dtype = "auto", max_shard_size = "5GB";
};

// Shape flags, named as in config.json. Given on the command line they set the model's shape
// (scratch) or must repeat the shape a folder or checkpoint gives (anything else is an error).
void add_model_flags(zs::FlagSet& flags, ModelFlags& m) {
  zs::LlamaConfig& s = m.shape;
  std::string presets;
  for (const std::string& p : zs::LlamaConfig::preset_names()) presets += (presets.empty() ? "" : ", ") + p;
  flags.add("model", m.model, "shape preset, random initialisation: " + presets);
  flags.add("vocab_size", s.vocab_size, "vocabulary (default: the preset's or folder's, else the data's)");
  flags.add("hidden_size", s.hidden_size, "");
  flags.add("intermediate_size", s.intermediate_size, "MLP width");
  flags.add("num_hidden_layers", s.num_hidden_layers, "");
  flags.add("num_attention_heads", s.num_attention_heads, "");
  flags.add("num_key_value_heads", s.num_key_value_heads, "grouped-query attention (default: num_attention_heads)");
  flags.add("head_dim", s.head_dim, "default: hidden_size / num_attention_heads");
  flags.add("max_position_embeddings", s.max_position_embeddings, "");
  flags.add("rope_theta", s.rope_theta, "");
  flags.add("rms_norm_eps", s.rms_norm_eps, "");
  flags.add("tie_word_embeddings", s.tie_word_embeddings, "the output head reuses the token embeddings");
  flags.add("attention_bias", s.attention_bias, "biases in q/k/v/o_proj");
  flags.add("mlp_bias", s.mlp_bias, "biases in gate/up/down_proj");
  flags.add("block_size", m.block_size, "tokens per sample (at most max_position_embeddings)");
  flags.add("dropout", m.dropout, "attention dropout (Llama has no other)");
  flags.add("tokenizer", m.tokenizer, "SentencePiece tokenizer.model for a text --data (default: the --init_from folder's)");
  flags.add("export_hf", m.export_hf, "write the trained model here as a Hugging Face folder at the end");
  flags.add("export_dtype", m.export_dtype, "dtype of the export (auto: the training dtype)",
            {"auto", "float32", "bfloat16", "float16"});
  flags.add("max_shard_size", m.max_shard_size, "largest weight file of the export, e.g. 5GB, 500MB");
}

template <class T>
std::string text_of(const T& v) {
  std::ostringstream s;
  s << std::boolalpha << v;
  return s.str();
}

// The shape flags given on the command line, onto `c`. `fixed`: where the shape comes from (a
// folder, the checkpoint); there a flag may only repeat the value.
void apply_shape_flags(const zs::FlagSet& flags, const ModelFlags& m, zs::LlamaConfig& c, const std::string& fixed) {
  auto take = [&](const char* name, auto& field, const auto& value) {
    if (!flags.given(name)) return;
    if (!fixed.empty() && field != value)
      throw zs::ConfigError(flags.origin(name) + " = " + flags.value_text(name) + " differs from " + name + " = " +
                            text_of(field) + " of " + fixed + ", where the model's shape comes from (leave the flag out)");
    field = value;
  };
  const zs::LlamaConfig& s = m.shape;
  take("vocab_size", c.vocab_size, s.vocab_size);
  take("hidden_size", c.hidden_size, s.hidden_size);
  take("intermediate_size", c.intermediate_size, s.intermediate_size);
  take("num_hidden_layers", c.num_hidden_layers, s.num_hidden_layers);
  take("num_attention_heads", c.num_attention_heads, s.num_attention_heads);
  take("num_key_value_heads", c.num_key_value_heads, s.num_key_value_heads);
  take("head_dim", c.head_dim, s.head_dim);
  take("max_position_embeddings", c.max_position_embeddings, s.max_position_embeddings);
  take("rope_theta", c.rope_theta, s.rope_theta);
  take("rms_norm_eps", c.rms_norm_eps, s.rms_norm_eps);
  take("tie_word_embeddings", c.tie_word_embeddings, s.tie_word_embeddings);
  take("attention_bias", c.attention_bias, s.attention_bias);
  take("mlp_bias", c.mlp_bias, s.mlp_bias);
}

// The model's config: from the checkpoint a resume continues, the Hugging Face folder, or a
// preset and the shape flags. `vocab_from_data`: a scratch model without a vocabulary takes the
// data's. Sets `source` to where the shape came from.
zs::LlamaConfig model_config(const zs::FlagSet& flags, const ModelFlags& m, const zs::TrainFlags& train,
                             const std::string& hf_folder, const nlohmann::json& resumed, bool& vocab_from_data,
                             std::string& source) {
  zs::LlamaConfig c;
  vocab_from_data = false;
  try {
    if (train.init_from == "resume") {
      if (!resumed.is_object() || !resumed.contains("model") || !resumed["model"].is_object())
        throw zs::ConfigError("the checkpoint to resume holds no model config (was it written by train_llama?)");
      source = "the checkpoint";
      c = zs::llama_config_from_hf(resumed["model"], source);
    } else if (!hf_folder.empty()) {
      source = zs::join_path(hf_folder, "config.json");
      c = zs::llama_config_from_hf(zs::read_hf_config(hf_folder), source);
    } else {
      if (zs::is_file_in_hf_directory(train.init_from))
        throw zs::ConfigError(flags.origin("init_from") + " = " + train.init_from +
                              " is one weight file of a Hugging Face model folder: pass the folder, --init_from=" +
                              zs::parent_directory(train.init_from));
      if (train.init_from != "scratch" && !zs::path_exists(train.init_from))
        throw zs::ConfigError(flags.origin("init_from") + " = " + train.init_from +
                              ": no such file or folder (expected scratch, resume, a Hugging Face model folder or a "
                              ".safetensors file)");
      if (!m.model.empty()) {
        c = zs::LlamaConfig::preset(m.model);
      } else {
        for (const char* required : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"})
          if (!flags.given(required))
            throw zs::ConfigError("choose the model: --model=PRESET, --init_from=<Hugging Face folder>, or the shape "
                                  "flags (--hidden_size, --intermediate_size, --num_hidden_layers, "
                                  "--num_attention_heads; --" + std::string(required) + " is missing)");
        c.num_key_value_heads = m.shape.num_attention_heads;   // the others as transformers defaults them
        c.max_position_embeddings = std::max<int64_t>(2048, m.block_size);
        vocab_from_data = !flags.given("vocab_size");
      }
      apply_shape_flags(flags, m, c, "");
      c.validate();
      return c;
    }
  } catch (const zs::CheckpointError& e) {
    throw zs::ConfigError(e.what());
  } catch (const std::invalid_argument& e) {
    throw zs::ConfigError(std::string("model: ") + e.what());
  }
  apply_shape_flags(flags, m, c, source);
  return c;
}

// The training data: a text file through the model's SentencePiece tokenizer, or what the
// trainer reads (a token folder, or a text file char-level for a model trained from scratch).
zs::TokenData load_data(zs::Trainer& trainer, const zs::TrainFlags& train, const ModelFlags& m, const std::string& folder,
                        bool pretrained) {
  const bool text_file = !train.data.empty() && zs::path_exists(train.data) && !zs::is_directory(train.data);
  std::string tokenizer = m.tokenizer;
  if (tokenizer.empty() && text_file && !folder.empty() && zs::path_exists(zs::join_path(folder, "tokenizer.model")))
    tokenizer = zs::join_path(folder, "tokenizer.model");
  if (!text_file || tokenizer.empty()) {
    if (text_file && pretrained)
      throw zs::ConfigError("--data " + train.data + " is text, and a pretrained model needs its own tokenizer: pass "
                            "--tokenizer=tokenizer.model (SentencePiece), or make a token folder with "
                            "scripts/prepare_tokens.py (tokenizer.json)");
    return trainer.load_token_data(0);
  }
  try {
    const zs::SentencePieceTokenizer tok(tokenizer);
    std::ifstream in(train.data, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::vector<uint32_t> ids;
    if (tok.bos_id() >= 0) ids.push_back(uint32_t(tok.bos_id()));   // Llama's convention: text starts with BOS
    const std::vector<uint32_t> body = tok.encode(text.str());
    ids.insert(ids.end(), body.begin(), body.end());
    trainer.print(zs::printf_string("tokenized %s with %s: %lld tokens", train.data.c_str(), tokenizer.c_str(),
                                    (long long)ids.size()));
    return zs::TokenData::from_tokens(ids, tok.vocab_size(), 0.9, train.data + " (" + tokenizer + ")");
  } catch (const std::exception& e) {
    throw zs::ConfigError(e.what());
  }
}

at::ScalarType export_dtype(const ModelFlags& m, const zs::TrainFlags& train, const zs::World& world) {
  const std::string name = m.export_dtype == "auto" ? zs::resolved_dtype(train, world) : m.export_dtype;
  return name == "bfloat16" ? at::kBFloat16 : name == "float16" ? at::kHalf : at::kFloat;
}

// The tokenizer files of the folder the model came from, next to its export (rank 0).
void copy_tokenizer_files(const std::string& from, const std::string& to) {
  for (const char* name : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string src = zs::join_path(from, name);
    if (zs::path_exists(src)) zs::write_file_atomic(zs::join_path(to, name), zs::read_text_file(src));
  }
}

int run(int argc, char** argv) {
  zs::FlagSet flags("train_llama", "Train a Llama (Hugging Face LlamaForCausalLM) with ZeRO (ZeroShard). Positional "
                                   "arguments are nanoGPT-style config files; every key is also a --key=value flag.");
  zs::TrainFlags train;
  zs::add_train_flags(flags, train);
  ModelFlags m;
  add_model_flags(flags, m);
  if (auto code = flags.parse(argc, const_cast<const char* const*>(argv))) return *code;
  if (!m.export_hf.empty()) {
    try {
      zs::parse_byte_size(m.max_shard_size);
    } catch (const std::invalid_argument& e) {
      throw zs::ConfigError(flags.origin("max_shard_size") + ": " + e.what());
    }
  }

  zs::Trainer trainer(flags, train);
  const nlohmann::json resumed = trainer.resume_state();
  const std::string hf_folder = trainer.hf_folder();
  bool vocab_from_data = false;
  std::string source;
  zs::LlamaConfig config = model_config(flags, m, train, hf_folder, resumed, vocab_from_data, source);
  const bool pretrained = !hf_folder.empty() || train.init_from == "resume";
  const zs::TokenData data = load_data(trainer, train, m, hf_folder, pretrained);
  if (vocab_from_data) config.vocab_size = data.vocab_size();
  if (data.vocab_size() > config.vocab_size)
    throw zs::ConfigError("the data's vocabulary (" + std::to_string(data.vocab_size()) + " ids, " + data.source() +
                          ") is larger than the model's vocab_size " + std::to_string(config.vocab_size));
  if (m.block_size > config.max_position_embeddings)
    throw zs::ConfigError(flags.origin("block_size") + " = " + std::to_string(m.block_size) +
                          " is longer than the model's max_position_embeddings " +
                          std::to_string(config.max_position_embeddings));
  if (flags.given("dropout")) config.attention_dropout = m.dropout;
  zs::World& world = trainer.world();

  // The model takes no memory until the engine makes it on each rank's device, one decoder layer
  // at a time at stage 3 (a 7B fits no host whole): built on the meta device and filled by the
  // engine with its initial values, or with zeros where a folder or checkpoint loads the weights
  // right after. Only a weights file (--init_from=FILE.safetensors) loads into a host model first.
  const bool weights_file = train.init_from != "scratch" && train.init_from != "resume" && hf_folder.empty();
  torch::manual_seed(uint64_t(train.seed));  // the same initial weights on every rank
  zs::Llama model(config, weights_file ? c10::Device(c10::kCPU) : c10::Device(c10::kMeta));
  zs::GlobalBatchSampler sampler(data, m.block_size, uint64_t(train.seed));

  zs::TrainerModel tm;
  tm.module = model.ptr();
  tm.batch = [&](const zs::BatchRef& r) {
    return sampler.batch(r.split, r.step, r.micro_step, r.rank, r.world_size, r.micro_batch).on_device(world.device);
  };
  tm.loss = [&](const std::vector<at::Tensor>& b) { return model->loss(b[0], b[1]); };
  tm.tokens_per_sample = m.block_size;
  tm.flops_per_token = model->flops_per_token(m.block_size);
  tm.decay = [](const std::string&, const at::Tensor& p) { return p.dim() >= 2; };  // norms and biases do not decay
  tm.load_weights = [&](const std::string& path) { zs::load_module_weights(*model, path); };
  if (!weights_file && train.init_from == "scratch") {
    tm.meta_init = [&model](const std::string& name, at::Tensor& value) { model->init_parameter(name, value); };
  } else if (!weights_file) {
    tm.meta_init = zs::zero_init;
  }
  tm.load_hf_folder = [&](const std::string& dir, zs::Engine& engine) {
    const zs::HfLoadStats s = zs::load_hf_weights(engine, dir);
    trainer.print(zs::printf_string("read %d weight file(s) of %s in %.1f s (this rank: %.1f MiB read, peak resident "
                                    "memory %.1f MiB)", s.files, dir.c_str(), s.seconds, s.bytes_read / 1048576.0,
                                    s.peak_rss_bytes / 1048576.0));
  };
  zs::add_model_auto_values(tm.autos, config.hidden_size);  // "auto" bucket sizes, as Hugging Face's Trainer
  tm.model_args = zs::llama_config_to_hf(config, at::kFloat);
  tm.description = zs::printf_string("data: %s (vocab %lld) | model: Llama, %.2fM parameters (%s)", data.source().c_str(),
                                     (long long)data.vocab_size(), model->num_params() / 1e6,
                                     source.empty() ? (m.model.empty() ? "shape flags" : m.model.c_str()) : source.c_str());
  trainer.run(tm);

  if (!m.export_hf.empty()) {
    zs::HfExportOptions options;
    options.dtype = export_dtype(m, train, world);
    options.max_shard_bytes = zs::parse_byte_size(m.max_shard_size);
    const zs::HfDirectoryResult r = zs::save_hf_pretrained(trainer.engine(), m.export_hf, options);
    if (world.is_main() && !hf_folder.empty()) copy_tokenizer_files(hf_folder, m.export_hf);
    trainer.print(zs::printf_string("exported the model to %s: %d weight file(s), %.1f MiB (%s)", m.export_hf.c_str(),
                                    r.files, r.bytes / 1048576.0, zs::hf_dtype_name(options.dtype).c_str()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return zs::trainer_main("train_llama", [&] { return run(argc, argv); });
}
