// Real DeepSpeed configs from public projects (tests/data/ds_configs, sources in SOURCES.md), read
// unchanged with the "auto" values a trainer supplies: what ZeroShard trains with, or the clear
// refusal of what it does not have.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "zs/config/config.hpp"
#include "zs/config/config_json.hpp"

namespace test_ds_configs {

using namespace zs;
using nlohmann::json;

namespace {

const std::string kDir = std::string(ZS_SOURCE_DIR) + "/tests/data/ds_configs/";

// What train_gpt offers with none of its flags given (nanoGPT's defaults), on CPU (float32), for
// a model with hidden size 64.
AutoValues trainer_values() {
  AutoValues autos = {
      {"train_micro_batch_size_per_gpu", flag_value(12, "--batch_size", false)},
      {"gradient_accumulation_steps", flag_value(5, "--gradient_accumulation_steps", false)},
      {"gradient_clipping", flag_value(1.0, "--grad_clip", false)},
      {"optimizer.params.lr", flag_value(6e-4, "--learning_rate", false)},
      {"optimizer.params.betas", flag_value(json::array({0.9, 0.95}), "--beta1", false)},
      {"optimizer.params.eps", AutoValue(1e-8, "", "", "AdamW's default eps")},
      {"optimizer.params.weight_decay", flag_value(0.1, "--weight_decay", false)},
      {"bf16.enabled", flag_value(false, "--dtype", false, "float32")},
      {"fp16.enabled", flag_value(false, "--dtype", false, "float32")},
      {"scheduler.params.warmup_num_steps", flag_value(2000, "--warmup_iters", false)},
      {"scheduler.params.total_num_steps", flag_value(600000, "--lr_decay_iters", false)},
      {"scheduler.params.warmup_max_lr", flag_value(6e-4, "--learning_rate", false)},
      {"scheduler.params.warmup_min_lr", AutoValue(0.0, "", "", "0, as Hugging Face's Trainer")},
  };
  add_model_auto_values(autos, 64);
  return autos;
}

struct RealConfig {
  std::string file;
  std::string refusal;                           // empty: accepted
  std::function<void(const Config&)> check;      // for accepted ones
};

std::vector<RealConfig> real_configs() {
  return {
      {"hf_ds_config_zero2.json", "",
       [](const Config& c) {
         EXPECT_EQ(c.zero.stage, 2);
         EXPECT_EQ(c.zero.offload_optimizer.device, "cpu");
         EXPECT_TRUE(c.zero.offload_optimizer.pin_memory);
         EXPECT_EQ(c.zero.reduce_bucket_size, 200000000);
         EXPECT_EQ(c.precision, Precision::fp32);
         EXPECT_EQ(c.train_batch_size, 12 * 5 * 2);
         EXPECT_EQ(c.scheduler->type, "WarmupLR");
         EXPECT_DOUBLE_EQ(c.scheduler->warmup_max_lr, 6e-4);
         EXPECT_DOUBLE_EQ(c.optimizer.eps, 1e-8);
         EXPECT_EQ(c.autos_resolved.size(), 13u);
       }},
      {"hf_ds_config_zero3.json", "",
       [](const Config& c) {
         EXPECT_EQ(c.zero.stage, 3);
         EXPECT_EQ(c.zero.offload_param.device, "cpu");
         EXPECT_EQ(c.zero.reduce_bucket_size, 4096);  // 64², as Hugging Face's Trainer
         EXPECT_EQ(c.zero.stage3_prefetch_bucket_size, 3686);
         EXPECT_EQ(c.zero.stage3_param_persistence_threshold, 640);
         EXPECT_EQ(c.zero.sub_group_size, int64_t(1e14));
         EXPECT_TRUE(c.zero.stage3_gather_16bit_weights_on_model_save);
         ASSERT_EQ(c.warnings.size(), 1u);  // the deprecated fp16 name
       }},
      // No batch size at all: the Trainer of that time always wrote one in.
      {"hf_ds_config_zero3_zeros.json", "the batch size is not set: set train_micro_batch_size_per_gpu", nullptr},
      {"ds_docs_getting_started.json", "",
       [](const Config& c) {
         EXPECT_EQ(c.zero.stage, 1);  // "zero_optimization": true
         EXPECT_EQ(c.precision, Precision::fp16);
         EXPECT_EQ(c.train_micro_batch_size_per_gpu, 4);
         EXPECT_EQ(c.optimizer.type, "AdamW");  // DeepSpeed's Adam with adam_w_mode
         EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.00015);
       }},
      {"ds_docs_zero_stage1.json", "the batch size is not set", nullptr},
      {"ds_docs_zero_stage2.json", "the batch size is not set", nullptr},
      {"ds_docs_zero_infinity_offload.json", "the batch size is not set", nullptr},
      // HJSON, which DeepSpeed's loader reads: the comma after the offload_optimizer object is missing.
      {"ds_docs_zero_offload.json", "invalid JSON: parse error at line 7, column 30: syntax error while parsing object - unexpected string literal; expected '}' (a comma missing before it?", nullptr},
      {"dse_imagenet_ds_config.json", "",
       [](const Config& c) {
         EXPECT_EQ(c.zero.stage, 0);
         EXPECT_EQ(c.train_micro_batch_size_per_gpu, 128);
         EXPECT_DOUBLE_EQ(c.gradient_clipping, 0.0);
         ASSERT_EQ(c.warnings.size(), 1u);
         EXPECT_EQ(c.warnings[0], "cuda_visible_devices: unknown top-level key, ignored");
       }},
      {"dse_imagenet_ds_fp16_z1_config.json", "fp16.auto_cast true is not supported by ZeroShard", nullptr},
      {"dse_pipeline_parallelism_ds_config.json", "",
       [](const Config& c) { EXPECT_EQ(c.gradient_accumulation_steps, 16); }},
      {"dse_bingbertsquad_deepspeed_bsz24_config.json", "optimizer.params.bias_correction false is not supported",
       nullptr},
      {"dse_bing_bert_progressive_layer_drop_config.json",
       "progressive_layer_drop: this DeepSpeed feature is not supported by ZeroShard", nullptr},
      {"dse_bing_bert_lamb_config.json", "sparse_attention: this DeepSpeed feature is not supported", nullptr},
      {"dse_tensor_parallel_hf_ds_config.json", "tensor_parallel: this DeepSpeed feature is not supported", nullptr},
      {"dse_bf16_master_weight_baseline.json", "",
       [](const Config& c) {
         EXPECT_EQ(c.zero.stage, 3);
         EXPECT_EQ(c.precision, Precision::bf16);
         EXPECT_EQ(c.zero.stage3_param_persistence_threshold, 0);
         EXPECT_EQ(c.zero.reduce_bucket_size, 50000000);
       }},
      {"dse_bf16_master_weight_bf16_full.json", "torch_autocast: this DeepSpeed feature is not supported", nullptr},
      {"dse_autotuning_ds_config_tune.json", "autotuning is not available in ZeroShard yet", nullptr},
      {"dse_autotuning_ds_config_fp16_z3.json", "",
       [](const Config& c) {
         EXPECT_EQ(c.zero.stage, 3);
         EXPECT_EQ(c.precision, Precision::fp16);
         EXPECT_EQ(c.train_micro_batch_size_per_gpu, 12);
       }},
      {"dse_gan_deepspeed_config.json", "", [](const Config& c) { EXPECT_EQ(c.train_micro_batch_size_per_gpu, 32); }},
  };
}

}  // namespace

TEST(RealDeepSpeedConfigs, EachFileIsCovered) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kDir))
    if (entry.path().extension() == ".json") ++files;
  EXPECT_EQ(files, real_configs().size());
}

TEST(RealDeepSpeedConfigs, ReadUnchangedOnTwoRanks) {
  for (const auto& real : real_configs()) {
    SCOPED_TRACE(real.file);
    const std::string path = kDir + real.file;
    std::string error;
    try {
      Config c = load_config(path, 2, trainer_values());
      if (real.check) real.check(c);
      // The resolved configuration prints.
      EXPECT_NE(describe_config(c).find("zero_optimization.stage"), std::string::npos);
    } catch (const ConfigError& e) {
      error = e.what();
    }
    if (real.refusal.empty()) {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
      EXPECT_NE(error.find(real.refusal), std::string::npos) << error;
    }
  }
}

// The ZeRO snippets of DeepSpeed's tutorials, added to a config that has a batch size.
TEST(RealDeepSpeedConfigs, TutorialSnippetsInAConfig) {
  auto with_batch = [](const std::string& file) {
    json doc = load_config_json(kDir + file);
    doc["train_micro_batch_size_per_gpu"] = 2;
    return parse_config(doc.dump(), 2, {}, file);
  };
  Config z1 = with_batch("ds_docs_zero_stage1.json");
  EXPECT_EQ(z1.zero.stage, 1);
  EXPECT_EQ(z1.zero.reduce_bucket_size, 500000000);
  Config z2 = with_batch("ds_docs_zero_stage2.json");
  EXPECT_EQ(z2.zero.stage, 2);
  EXPECT_TRUE(z2.zero.overlap_comm);
  Config inf = with_batch("ds_docs_zero_infinity_offload.json");
  EXPECT_EQ(inf.zero.stage, 3);
  EXPECT_EQ(inf.zero.offload_optimizer.device, "cpu");
  EXPECT_EQ(inf.zero.offload_param.device, "cpu");
  EXPECT_EQ(inf.zero.stage3_prefetch_bucket_size, 10000000);
  EXPECT_EQ(inf.zero.reduce_bucket_size, 10000000);
}

}  // namespace test_ds_configs
