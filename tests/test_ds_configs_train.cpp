// Real DeepSpeed configs (tests/data/ds_configs) run unchanged: train_gpt trains a tiny GPT for a
// few steps on 2 CPU ranks with each, "auto" filled from its flags and the model, and prints the
// resolved configuration; what it does not have, and files that are no config, end with a clear
// message and exit code 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/error_of.hpp"
#include "support/run_ranks.hpp"

namespace test_ds_configs_train {

using namespace zs::testing;

namespace {

const std::string kDir = std::string(ZS_SOURCE_DIR) + "/tests/data/ds_configs/";

RunResult train(const std::string& config, const std::string& extra = "") {
  return run_ranks(2,
                   bin("train_gpt") + " --device cpu --deepspeed_config " + config +
                       " --n_layer 1 --n_head 2 --n_embd 16 --block_size 8 --batch_size 2 --gradient_accumulation_steps 2"
                       " --max_iters 3 --eval_interval 3 --eval_iters 1 --warmup_iters 2 --lr_decay_iters 3"
                       " --sample_tokens 0 " + extra,
                   180);
}

}  // namespace

TEST(RealDeepSpeedConfigsTrain, HuggingFaceZero2WithCpuOffload) {
  const RunResult r = train(kDir + "hf_ds_config_zero2.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_CONTAINS(r.output, "[zeroshard] DeepSpeed configuration (resolved; defaults included):");
  EXPECT_CONTAINS(r.output, "zero_optimization.offload_optimizer.device ");
  EXPECT_CONTAINS(r.output, " \"cpu\"\n");
  EXPECT_CONTAINS(r.output, "  <- default of --learning_rate");
  EXPECT_CONTAINS(r.output, " 2  <- --batch_size\n");
  EXPECT_CONTAINS(r.output, " 2  <- --warmup_iters\n");  // warmup_num_steps
  EXPECT_CONTAINS(r.output, "[train_gpt] step 3: train loss");
}

TEST(RealDeepSpeedConfigsTrain, HuggingFaceZero3WithParameterOffload) {
  const RunResult r = train(kDir + "hf_ds_config_zero3.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // reduce_bucket_size and the stage-3 sizes from the hidden size (16), as Hugging Face's Trainer.
  EXPECT_CONTAINS(r.output, " 256  <- model: hidden size 16, 16²\n");
  EXPECT_CONTAINS(r.output, " 230  <- model: hidden size 16, 0.9·16²\n");
  EXPECT_CONTAINS(r.output, " 160  <- model: hidden size 16, 10·16\n");
  EXPECT_CONTAINS(r.output, "warning: zero_optimization.stage3_gather_fp16_weights_on_model_save is deprecated");
  EXPECT_CONTAINS(r.output, "[train_gpt] step 3: train loss");
}

TEST(RealDeepSpeedConfigsTrain, TutorialSnippetAndExampleConfig) {
  // A ZeRO-Infinity snippet of DeepSpeed's tutorial: no batch size, so train_gpt's flags give it.
  const RunResult snippet = train(kDir + "ds_docs_zero_infinity_offload.json");
  ASSERT_EQ(snippet.exit_code, 0) << snippet.output;
  EXPECT_CONTAINS(snippet.output, "[train_gpt] step 3: train loss");
  // DeepSpeedExamples' GAN config: train_batch_size 64, so 32 per rank.
  const RunResult gan = train(kDir + "dse_gan_deepspeed_config.json");
  ASSERT_EQ(gan.exit_code, 0) << gan.output;
  EXPECT_CONTAINS(gan.output, "[zeroshard] batch 64 = micro 32 x accumulation 1 x 2 ranks");
}

TEST(RealDeepSpeedConfigsTrain, RefusalsAndBrokenFilesExitWithAMessage) {
  const RunResult tune = train(kDir + "dse_autotuning_ds_config_tune.json");
  EXPECT_EQ(tune.exit_code, 2) << tune.output;
  EXPECT_CONTAINS(tune.output, "train_gpt: error: " + kDir +
                                   "dse_autotuning_ds_config_tune.json: autotuning is not available in ZeroShard yet");

  const std::string dir = temp_dir("ds_configs_bad");
  const RunResult directory = run_ranks(1, bin("train_gpt") + " --device cpu --deepspeed_config " + dir, 60);
  EXPECT_EQ(directory.exit_code, 2) << directory.output;
  EXPECT_CONTAINS(directory.output, "train_gpt: error: config file " + dir + " is a directory");

  write_text(dir + "/deep.json", std::string(100000, '['));
  const RunResult deep = run_ranks(1, bin("train_gpt") + " --device cpu --deepspeed_config " + dir + "/deep.json", 60);
  EXPECT_EQ(deep.exit_code, 2) << deep.output;
  EXPECT_CONTAINS(deep.output, "the config nests deeper than 64 levels");
  EXPECT_LT(deep.seconds, time_limit(30.0));

  write_text(dir + "/dup.json", R"({"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 1, "stage": 2}})");
  const RunResult dup = run_ranks(1, bin("train_gpt") + " --device cpu --deepspeed_config " + dir + "/dup.json", 60);
  EXPECT_EQ(dup.exit_code, 2) << dup.output;
  EXPECT_CONTAINS(dup.output, "zero_optimization.stage is given twice in one object");
  std::filesystem::remove_all(dir);
}

}  // namespace test_ds_configs_train
