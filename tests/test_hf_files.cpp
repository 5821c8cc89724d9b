// The Hugging Face interchange's own parts, without transformers: config.json in both styles
// and its errors, the directory writer's sharding and index, the weight files' checks, and the
// loader's refusals (missing, extra or misshapen tensors, pytorch_model.bin, a file inside a
// directory).
#include <ATen/ops/equal.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <algorithm>
#include <fstream>

#include "support/error_of.hpp"
#include "support/run_ranks.hpp"
#include "zs/ckpt/file_io.hpp"
#include "zs/hf/hf_config.hpp"
#include "zs/hf/hf_directory_writer.hpp"
#include "zs/hf/hf_export.hpp"
#include "zs/hf/hf_load.hpp"
#include "zs/hf/hf_weight_files.hpp"
#include "zs/models/gpt/gpt.hpp"
#include "zs/models/llama/llama.hpp"

namespace test_hf_files {

using namespace zs::testing;
using json = nlohmann::json;

namespace {

using zs::testing::error_of;

json llama_json() {
  return json::parse(R"({"model_type": "llama", "vocab_size": 50, "hidden_size": 32, "intermediate_size": 48,
                         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                         "max_position_embeddings": 64, "rms_norm_eps": 1e-5})");
}

zs::Llama tiny_llama(bool tied = false) {
  json j = llama_json();
  j["tie_word_embeddings"] = tied;
  return zs::Llama(zs::llama_config_from_hf(j, "test"));
}

}  // namespace

TEST(HfConfig, BothRopeStylesAndTransformersDefaults) {
  json old_style = llama_json();
  old_style["rope_theta"] = 500000.0;
  old_style["rope_scaling"] = {{"type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                               {"original_max_position_embeddings", 32}};
  json new_style = llama_json();
  new_style["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                                  {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 32}};
  for (const json& j : {old_style, new_style}) {
    const zs::LlamaConfig c = zs::llama_config_from_hf(j, "config.json");
    EXPECT_EQ(c.rope_theta, 500000.0);
    EXPECT_EQ(c.rope_scaling.type, "llama3");
    EXPECT_EQ(c.rope_scaling.factor, 8.0);
    EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 32);
    EXPECT_EQ(c.num_key_value_heads, 2);
  }
  // transformers' defaults for what a file leaves out; rope_scaling null means none.
  json bare = llama_json();
  bare.erase("num_key_value_heads");
  bare.erase("rms_norm_eps");
  bare["rope_scaling"] = nullptr;
  const zs::LlamaConfig c = zs::llama_config_from_hf(bare, "config.json");
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling.type, "default");
  EXPECT_FALSE(c.tie_word_embeddings);
  // Written and read back: the same model.
  json written = zs::llama_config_to_hf(zs::llama_config_from_hf(new_style, "x"), at::kBFloat16);
  EXPECT_EQ(written["torch_dtype"], "bfloat16");
  EXPECT_EQ(written["rope_parameters"]["rope_type"], "llama3");
  EXPECT_EQ(written["rope_scaling"]["factor"], 8.0);
  const zs::LlamaConfig again = zs::llama_config_from_hf(written, "x");
  EXPECT_EQ(again.rope_scaling.low_freq_factor, 1.0);
  EXPECT_EQ(again.num_parameters(), zs::llama_config_from_hf(new_style, "x").num_parameters());
}

TEST(HfConfig, UnsupportedSettingsAreNamed) {
  auto error_with = [](const char* key, const json& value) {
    json j = llama_json();
    j[key] = value;
    return error_of([&] { zs::llama_config_from_hf(j, "dir/config.json"); });
  };
  EXPECT_NE(error_with("rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}).find("\"yarn\" is not supported"), std::string::npos);
  EXPECT_NE(error_with("hidden_act", "gelu").find("hidden_act"), std::string::npos);
  EXPECT_NE(error_with("partial_rotary_factor", 0.5).find("partial_rotary_factor"), std::string::npos);
  EXPECT_NE(error_with("model_type", "mistral").find("not \"llama\""), std::string::npos);
  EXPECT_NE(error_with("num_key_value_heads", 3).find("num_key_value_heads"), std::string::npos);
  EXPECT_NE(error_with("hidden_size", "wide").find("dir/config.json: \"hidden_size\" has the wrong type"), std::string::npos);
  json missing = llama_json();
  missing.erase("vocab_size");
  EXPECT_NE(error_of([&] { zs::llama_config_from_hf(missing, "c"); }).find("has no \"vocab_size\""), std::string::npos);
  json gpt = {{"model_type", "gpt2"}, {"vocab_size", 50}, {"n_positions", 16}, {"n_embd", 32}, {"n_layer", 2},
              {"n_head", 2}, {"activation_function", "relu"}};
  EXPECT_NE(error_of([&] { zs::gpt_config_from_hf(gpt, "c"); }).find("activation_function \"relu\""), std::string::npos);
  gpt["activation_function"] = "gelu_new";
  EXPECT_EQ(zs::gpt_config_from_hf(gpt, "c").activation, "gelu_tanh");
  EXPECT_TRUE(zs::gpt_config_from_hf(gpt, "c").bias);
}

TEST(HfDirectoryWriter, ShardsLikeSavePretrained) {
  EXPECT_EQ(zs::parse_byte_size("5GB"), 5000000000);
  EXPECT_EQ(zs::parse_byte_size("2GiB"), int64_t(2) << 30);
  EXPECT_EQ(zs::parse_byte_size("500mb"), 500000000);
  EXPECT_EQ(zs::parse_byte_size("1234"), 1234);
  EXPECT_THROW(zs::parse_byte_size("lots"), std::invalid_argument);

  const std::string dir = temp_dir("hf_writer");
  // 4 tensors of 400 bytes in fp32 with 1000-byte files: [a, b], [c, d]; a 1200-byte tensor alone.
  std::vector<zs::TensorInfo> tensors = {{"a", "", {100}}, {"b", "", {10, 10}}, {"big", "", {300}}, {"c", "", {100}}, {"d", "", {100}}};
  zs::HfDirectoryWriter writer(dir, tensors, at::kFloat, 1000);
  EXPECT_EQ(writer.num_files(), 3);
  // Out of order: each goes straight to its place.
  for (const char* name : {"d", "big", "a", "c", "b"}) writer.write(name, at::ones({name == std::string("big") ? 300 : 100}));
  EXPECT_THROW(writer.write("a", at::ones({100})), zs::CheckpointError);
  const zs::HfDirectoryResult r = writer.finish(json{{"model_type", "test"}});
  EXPECT_EQ(r.files, 3);
  EXPECT_EQ(r.tensors, 5);
  const json index = json::parse(zs::read_text_file(dir + "/model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 2800);
  EXPECT_EQ(index["weight_map"]["b"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["big"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["d"], "model-00003-of-00003.safetensors");
  const zs::HfWeightFiles files(dir);
  EXPECT_EQ(files.files().size(), 3u);
  EXPECT_EQ(files.info("b").shape, (std::vector<int64_t>{10, 10}));
  EXPECT_EQ(files.reader(files.file_of("c")).metadata().at("format"), "pt");
}

TEST(HfLoad, LlamaRoundTripAndRefusals) {
  torch::manual_seed(1);
  zs::Llama source = tiny_llama();
  const std::string dir = temp_dir("hf_llama");
  zs::HfExportOptions options;
  options.dtype = at::kFloat;
  options.max_shard_bytes = 8000;
  ASSERT_GT(zs::save_hf_pretrained(*source, dir, options).files, 2);
  // config.json rebuilds the same model, and the weights load exactly.
  torch::manual_seed(2);
  zs::Llama copy(zs::llama_config_from_hf(zs::read_hf_config(dir), dir));
  const zs::HfLoadStats stats = zs::load_hf_weights(*copy, dir);
  EXPECT_EQ(stats.tensors, int64_t(source->named_parameters().size()));
  for (const auto& item : source->named_parameters()) EXPECT_TRUE(at::equal(item.value(), copy->named_parameters()[item.key()])) << item.key();

  // A model of another shape, or another family, is refused naming the tensor.
  zs::Llama tied = tiny_llama(/*tied=*/true);
  EXPECT_NE(error_of([&] { zs::load_hf_weights(*tied, dir); }).find("lm_head.weight, which the llama model"), std::string::npos);
  json wider = llama_json();
  wider["intermediate_size"] = 64;
  zs::Llama other(zs::llama_config_from_hf(wider, "x"));
  EXPECT_NE(error_of([&] { zs::load_hf_weights(*other, dir); }).find("needs [64, 32]"), std::string::npos);
  zs::GPTConfig g;
  g.n_layer = 1, g.n_head = 2, g.n_embd = 32, g.block_size = 8, g.vocab_size = 50;
  zs::GPT gpt(g);
  EXPECT_NE(error_of([&] { zs::load_hf_weights(*gpt, dir); }).find("has no tensor transformer.wte.weight"), std::string::npos);
  zs::Llama meta(zs::llama_config_from_hf(llama_json(), "x"), c10::Device(c10::kMeta));
  EXPECT_NE(error_of([&] { zs::load_hf_weights(*meta, dir); }).find("meta device"), std::string::npos);

  // A tied model's directory loads into a tied model (the head is the embedding).
  const std::string tied_dir = temp_dir("hf_tied");
  zs::save_hf_pretrained(*tied, tied_dir, options);
  EXPECT_EQ(zs::read_hf_config(tied_dir)["tie_word_embeddings"], true);
  zs::Llama tied_copy(zs::llama_config_from_hf(zs::read_hf_config(tied_dir), tied_dir));
  zs::load_hf_weights(*tied_copy, tied_dir);
  EXPECT_TRUE(at::equal(tied_copy->model->embed_tokens->weight, tied->model->embed_tokens->weight));
}

TEST(HfLoad, DamagedDirectoriesAreNamed) {
  torch::manual_seed(3);
  zs::Llama model = tiny_llama();
  zs::HfExportOptions options;
  options.max_shard_bytes = 8000;
  const std::string dir = temp_dir("hf_damaged");
  zs::save_hf_pretrained(*model, dir, options);
  // A file the index names is gone.
  const std::string gone = temp_dir("hf_gone");
  ASSERT_EQ(run_command("cp -r " + dir + "/. " + gone + " && rm " + gone + "/model-00002-of-*.safetensors").exit_code, 0);
  EXPECT_NE(error_of([&] { zs::HfWeightFiles files(gone); }).find("which is missing"), std::string::npos);
  // Only PyTorch pickles.
  const std::string pickles = temp_dir("hf_pickles");
  std::ofstream(pickles + "/config.json") << "{}";
  std::ofstream(pickles + "/pytorch_model.bin") << "x";
  EXPECT_NE(error_of([&] { zs::HfWeightFiles files(pickles); }).find("pytorch_model.bin"), std::string::npos);
  // A truncated shard.
  const std::string cut = temp_dir("hf_cut");
  ASSERT_EQ(run_command("cp -r " + dir + "/. " + cut + " && truncate -s 100 " + cut + "/model-00001-of-*.safetensors").exit_code, 0);
  EXPECT_NE(error_of([&] { zs::HfWeightFiles files(cut); }).find("truncated"), std::string::npos);
  // A weight file of the directory given where the directory is wanted.
  const std::string first = dir + "/" + zs::HfWeightFiles(dir).files().front();
  EXPECT_TRUE(zs::is_file_in_hf_directory(first));
  EXPECT_FALSE(zs::is_file_in_hf_directory(dir));
  EXPECT_NE(error_of([&] { zs::read_hf_config(dir + "/nope"); }).find("does not exist"), std::string::npos);
}

// GPT: our bias-free GPT exports zero biases and loads them back; non-zero biases do not load
// into a model without biases.
TEST(HfLoad, GptWithoutBiasesRoundTrip) {
  zs::GPTConfig g;
  g.n_layer = 2, g.n_head = 2, g.n_embd = 32, g.block_size = 8, g.vocab_size = 50, g.bias = false;
  torch::manual_seed(4);
  zs::GPT model(g);
  const std::string dir = temp_dir("hf_gpt");
  zs::HfExportOptions options;
  options.dtype = at::kFloat;
  zs::save_hf_pretrained(*model, dir, options);
  const json config = zs::read_hf_config(dir);
  EXPECT_EQ(config["activation_function"], "gelu");
  EXPECT_EQ(config["n_head"], 2);
  zs::GPT copy(g);
  zs::load_hf_weights(*copy, dir);
  for (const auto& item : model->named_parameters()) EXPECT_TRUE(at::equal(item.value(), copy->named_parameters()[item.key()])) << item.key();
  g.bias = true;
  torch::manual_seed(5);
  zs::GPT with_bias(g);
  for (auto& p : with_bias->parameters()) p.detach().normal_();
  const std::string biased = temp_dir("hf_gpt_bias");
  zs::save_hf_pretrained(*with_bias, biased, options);
  EXPECT_NE(error_of([&] { zs::load_hf_weights(*copy, biased); }).find("is not zero"), std::string::npos);
}

}  // namespace test_hf_files
