// Hugging Face interchange against transformers itself (CPU, fp32): tiny random checkpoints that
// transformers wrote (one file and sharded, tied and untied head, multi-, grouped- and single-
// key/value-head attention, both config.json styles, Llama 3.1's rope scaling, bf16 weights,
// GPT-2 as transformers saves it and as the hub names it) load into ZeroShard's Llama and GPT and
// give transformers' logits and loss; ZeroShard's export of each loads back with from_pretrained
// and gives the same logits again.
#include <ATen/ops/abs.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/cat.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <algorithm>
#include <cstdio>

#include "support/hf_python.hpp"
#include "zs/ckpt/safetensors.hpp"
#include "zs/hf/hf_config.hpp"
#include "zs/hf/hf_export.hpp"
#include "zs/hf/hf_load.hpp"
#include "zs/hf/hf_weight_files.hpp"
#include "zs/models/gpt/gpt.hpp"
#include "zs/data/token_data.hpp"
#include "zs/models/llama/llama.hpp"

using namespace zs::testing;

namespace {

const std::vector<std::string> kLlamaCases = {"llama_one_file_untied", "llama_sharded_tied_gqa", "llama3_rope_mqa",
                                              "llama3_rope_bf16_sharded"};
const std::vector<std::string> kGpt2Cases = {"gpt2", "gpt2_hub_names"};

struct Reference {
  at::Tensor input_ids, labels, logits;
  double loss = 0;
};

Reference read_reference(const std::string& path) {
  zs::SafetensorsReader file(path);
  return {file.read("input_ids"), file.read("labels"), file.read("logits"), file.read("loss").item<double>()};
}

// max |a - b| / max |b|: the logits' error relative to their scale.
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kFloat) - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// A model of the case's family and config, with the directory's weights, and its fp32 logits and
// loss (Hugging Face's label convention; -100 ignored) on the reference inputs.
struct Loaded {
  std::shared_ptr<torch::nn::Module> module;
  at::Tensor logits;
  double loss = 0;
};

Loaded load_and_run(const std::string& dir, const Reference& ref) {
  c10::NoGradGuard no_grad;
  const nlohmann::json config = zs::read_hf_config(dir);
  Loaded out;
  if (zs::hf_model_type(config, dir) == "llama") {
    zs::Llama model(zs::llama_config_from_hf(config, dir));
    zs::load_hf_weights(*model, dir);
    model->eval();
    const zs::LlamaOutput o = model->forward_with_labels(ref.input_ids, ref.labels);
    out = {model.ptr(), o.logits, o.loss.item<double>()};
  } else {
    zs::GPT model(zs::gpt_config_from_hf(config, dir));
    zs::load_hf_weights(*model, dir);
    model->eval();
    // The GPT's forward gives every position's logits when given targets; the loss is taken here
    // with Hugging Face's convention.
    const at::Tensor logits = model->forward(ref.input_ids, at::zeros_like(ref.input_ids)).logits;
    const at::Tensor targets = at::cat({ref.labels.slice(1, 1), at::full({ref.labels.size(0), 1}, -100, ref.labels.options())}, 1);
    const double loss = at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}), {},
                                               at::Reduction::Mean, -100)
                            .item<double>();
    out = {model.ptr(), logits, loss};
  }
  return out;
}

}  // namespace

TEST(HfInterchange, LogitsAndLossEqualTransformers) {
  for (const auto& cases : {kLlamaCases, kGpt2Cases}) {
    for (const std::string& name : cases) {
      const std::string dir = hf_references() + "/" + name;
      const Reference ref = read_reference(dir + ".ref.safetensors");
      const Loaded got = load_and_run(dir, ref);
      const double logits_error = relative_error(got.logits, ref.logits);
      const double loss_error = std::abs(got.loss - ref.loss) / std::abs(ref.loss);
      std::printf("[hf] %-26s logits rel error %.2e, loss %.6f vs transformers %.6f (rel %.2e)\n", name.c_str(),
                  logits_error, got.loss, ref.loss, loss_error);
      EXPECT_LE(logits_error, 1e-4) << name;
      EXPECT_LE(loss_error, 1e-4) << name;
    }
  }
}

// Our export of each case (fp32, small shards), loaded by transformers' from_pretrained, computes
// our logits; the directory has the layout save_pretrained writes.
TEST(HfInterchange, ExportLoadsWithFromPretrained) {
  const std::string work = temp_dir("hf_export");
  std::string args;
  std::vector<std::pair<std::string, Loaded>> ours;
  for (const auto& cases : {kLlamaCases, kGpt2Cases}) {
    for (const std::string& name : cases) {
      const std::string dir = hf_references() + "/" + name;
      Loaded got = load_and_run(dir, read_reference(dir + ".ref.safetensors"));
      zs::HfExportOptions options;
      options.dtype = at::kFloat;
      options.max_shard_bytes = 24 * 1024;   // several files even for these tiny models
      const zs::HfDirectoryResult r = zs::save_hf_pretrained(*got.module, work + "/" + name, options);
      EXPECT_GT(r.files, 1) << name;
      EXPECT_TRUE(zs::path_exists(work + "/" + name + "/model.safetensors.index.json")) << name;
      EXPECT_TRUE(zs::path_exists(work + "/" + name + "/generation_config.json")) << name;
      // Our own reader takes the export back.
      const zs::HfWeightFiles files(work + "/" + name);
      EXPECT_EQ(int(files.files().size()), r.files);
      args += " " + work + "/" + name + " " + dir + ".ref.safetensors " + work + "/" + name + ".out.safetensors";
      ours.emplace_back(name, std::move(got));
    }
  }
  const RunResult python = hf_reference("logits" + args);
  ASSERT_EQ(python.exit_code, 0) << python.output;
  for (const auto& [name, got] : ours) {
    const Reference theirs = read_reference(work + "/" + name + ".out.safetensors");
    const double error = relative_error(got.logits, theirs.logits);
    std::printf("[hf] export of %-26s from_pretrained logits rel error %.2e\n", name.c_str(), error);
    EXPECT_LE(error, 1e-5) << name;
  }
}

// A directory written again with fewer files keeps no stale shards; a single file has no index.
TEST(HfInterchange, ReexportReplacesOldShards) {
  const std::string dir = hf_references() + "/llama_sharded_tied_gqa";
  const Loaded got = load_and_run(dir, read_reference(dir + ".ref.safetensors"));
  const std::string out = temp_dir("hf_reexport");
  zs::HfExportOptions options;
  options.dtype = at::kFloat;
  options.max_shard_bytes = 24 * 1024;
  ASSERT_GT(zs::save_hf_pretrained(*got.module, out, options).files, 1);
  options.dtype = at::kBFloat16;
  options.max_shard_bytes = zs::parse_byte_size("5GB");
  ASSERT_EQ(zs::save_hf_pretrained(*got.module, out, options).files, 1);
  std::vector<std::string> names = zs::list_directory(out);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"config.json", "generation_config.json", "model.safetensors"}));
  EXPECT_EQ(zs::read_hf_config(out)["torch_dtype"], "bfloat16");
  EXPECT_EQ(zs::SafetensorsReader(out + "/model.safetensors").info("model.norm.weight").dtype, "BF16");
}

// scripts/prepare_tokens.py: text through a tokenizer.json into a token folder that TokenData reads
// back as the tokenizer's ids: uint16 for a small vocabulary, uint32 past 65,536 ids.
TEST(HfInterchange, PrepareTokensScript) {
  const std::string dir = temp_dir("prepare_tokens");
  std::string text;
  for (int i = 0; i < 300; ++i) text += "the quick brown fox " + std::to_string(i) + " jumps over the lazy dog\n";
  write_text(dir + "/text.txt", text);
  for (const int extra : {0, 70000}) {
    const std::string tok = dir + "/tok" + std::to_string(extra), out = dir + "/tokens" + std::to_string(extra);
    ASSERT_EQ(hf_reference("tokenizer " + dir + "/text.txt " + tok + " " + std::to_string(extra)).exit_code, 0);
    const RunResult r = run_command(hf_python() + " " + std::string(ZS_SOURCE_DIR) + "/scripts/prepare_tokens.py --tokenizer " +
                                    tok + " --input " + dir + "/text.txt --out " + out + " --bos --val_fraction 0.2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const nlohmann::json want = read_json(tok + "/ids.json");
    std::vector<int64_t> ids = {want["bos"].get<int64_t>()};
    for (const auto& id : want["ids"]) ids.push_back(id.get<int64_t>());
    const zs::TokenData data = zs::TokenData::load(out);
    EXPECT_EQ(data.vocab_size(), want["vocab_size"].get<int64_t>());
    EXPECT_EQ(data.tokens(zs::Split::Train).token_bytes(), extra > 0 ? 4 : 2);
    const size_t n_train = data.tokens(zs::Split::Train).size();
    ASSERT_EQ(n_train + data.tokens(zs::Split::Val).size(), ids.size());
    EXPECT_EQ(n_train, size_t(double(ids.size()) * 0.8));
    for (size_t i = 0; i < ids.size(); ++i)
      ASSERT_EQ(i < n_train ? data.tokens(zs::Split::Train)[i] : data.tokens(zs::Split::Val)[i - n_train], ids[i]) << i;
  }
}
