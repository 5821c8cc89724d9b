// train_llama end to end on CPU ranks: from a Hugging Face folder (evaluation only, then training
// with checkpoints and an export that equals the checkpoint's own export), resume with the shape
// the checkpoint saved, a scratch model on a uint32 token folder, and the clear refusals.
#include <gtest/gtest.h>

#include <ATen/ops/equal.h>

#include <regex>

#include "support/hf_python.hpp"
#include "zs/data/token_folder.hpp"
#include "zs/hf/hf_config.hpp"
#include "zs/hf/hf_weight_files.hpp"

using namespace zs::testing;

namespace {

const std::string kCommon = " --device=cpu --batch_size=2 --block_size=12 --eval_iters=2 --learning_rate=1e-3 --warmup_iters=1";

RunResult train_llama(int ranks, const std::string& args) { return run_ranks(ranks, bin("train_llama") + kCommon + " " + args, 300); }

double val_loss_at(const std::string& output, int step) {
  std::smatch m;
  const std::regex re("step " + std::to_string(step) + ": train loss [0-9.]+, val loss ([0-9.]+)");
  return std::regex_search(output, m, re) ? std::stod(m[1]) : -1;
}

void expect_same_weights(const std::string& a, const std::string& b) {
  const zs::HfWeightFiles fa(a), fb(b);
  ASSERT_EQ(fa.weight_map().size(), fb.weight_map().size());
  for (const auto& [name, file] : fa.weight_map())
    EXPECT_TRUE(at::equal(fa.reader(file).read(name), fb.reader(fb.file_of(name)).read(name))) << name;
}

}  // namespace

TEST(TrainLlama, FromAHuggingFaceFolderTrainsResumesAndExports) {
  const std::string model = hf_references() + "/llama_sharded_tied_gqa";
  const std::string dir = temp_dir("train_llama");
  const RunResult eval = train_llama(2, "--init_from=" + model + " --eval_only --zero_stage=2");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("initialized from the Hugging Face folder " + model), std::string::npos) << eval.output;
  const double loaded_val = val_loss_at(eval.output, 0);
  EXPECT_GT(loaded_val, 0) << eval.output;

  const std::string run = "--init_from=" + model + " --zero_stage=2 --eval_interval=2 --out_dir=" + dir +
                          "/out --export_hf=" + dir + "/hf --export_dtype=float32";
  const RunResult first = train_llama(2, run + " --max_iters=4");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(val_loss_at(first.output, 0), loaded_val);
  EXPECT_LT(val_loss_at(first.output, 4), loaded_val) << first.output;
  EXPECT_NE(first.output.find("exported the model to " + dir + "/hf"), std::string::npos) << first.output;
  // The export holds the run's final weights: the same as the checkpoint's own export.
  const RunResult tool = run_command(bin("zs_ckpt") + " export-hf " + dir + "/out " + dir + "/from_ckpt");
  ASSERT_EQ(tool.exit_code, 0) << tool.output;
  expect_same_weights(dir + "/hf", dir + "/from_ckpt");
  EXPECT_EQ(zs::read_hf_config(dir + "/hf")["tie_word_embeddings"], true);
  EXPECT_EQ(zs::read_hf_config(dir + "/hf")["num_key_value_heads"], 2);

  // Resumed at 4 on 3 ranks and stage 1, continued to 6 with the checkpoint's model config.
  const RunResult resumed = train_llama(3, "--init_from=resume --zero_stage=1 --eval_interval=2 --out_dir=" + dir +
                                               "/out --max_iters=6");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from " + dir + "/out/global_step4 at iteration 4"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("(the checkpoint)"), std::string::npos) << resumed.output;
  EXPECT_GT(val_loss_at(resumed.output, 6), 0);
}

TEST(TrainLlama, ScratchModelOnUint32Tokens) {
  const std::string dir = temp_dir("train_llama_scratch");
  std::vector<uint32_t> train(4000), val(500);
  for (size_t i = 0; i < train.size(); ++i) train[i] = uint32_t(66000 + (i * 7) % 13);   // ids past uint16
  for (size_t i = 0; i < val.size(); ++i) val[i] = uint32_t(66000 + (i * 7) % 13);
  zs::write_token_folder(dir + "/tokens", train, val, 66013, "test");
  const RunResult r = train_llama(2, "--data=" + dir + "/tokens --hidden_size=32 --intermediate_size=48 "
                                     "--num_hidden_layers=2 --num_attention_heads=4 --num_key_value_heads=1 "
                                     "--max_iters=8 --eval_interval=8 --learning_rate=1e-2 --out_dir=");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(vocab 66013)"), std::string::npos) << r.output;
  EXPECT_LT(val_loss_at(r.output, 8), val_loss_at(r.output, 0)) << r.output;
}

TEST(TrainLlama, ClearRefusals) {
  const std::string model = hf_references() + "/llama_one_file_untied";
  const std::string dir = temp_dir("train_llama_bad");
  write_text(dir + "/text.txt", "some text to train on\n");
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"--init_from=" + model + "/model.safetensors", "pass the folder, --init_from=" + model},
      {"--init_from=" + model + " --data=" + dir + "/text.txt", "needs its own tokenizer"},
      {"--init_from=" + model + " --num_hidden_layers=3", "differs from num_hidden_layers = 2 of " + model},
      {"--init_from=" + model + " --block_size=100", "longer than the model's max_position_embeddings 64"},
      {"--hidden_size=32", "choose the model"},
      {"--model=llama9", "unknown Llama preset"},
      {"--init_from=" + model + " --eval_only --max_shard_size=lots --export_hf=" + dir + "/x", "lots"},
  };
  for (const Case& c : cases) {
    const RunResult r = train_llama(1, c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
}

// train_gpt from a Hugging Face GPT-2 folder (nanoGPT's --init_from=gpt2*): the folder's shape is
// adopted, the weights go into the engine's shards (Conv1D slices transposed on the way), and the
// evaluation is the same whichever ranks hold which slices.
TEST(TrainGpt, FromAHuggingFaceGpt2Folder) {
  const std::string model = hf_references() + "/gpt2_hub_names";
  const std::string common = " --device=cpu --eval_iters=2 --eval_only --init_from=" + model;
  std::vector<double> losses;
  // The same 6 samples per evaluation batch at every world size.
  for (const auto& [ranks, stage] : std::vector<std::pair<int, int>>{{1, 0}, {2, 2}, {3, 3}}) {
    const RunResult r = run_ranks(ranks, bin("train_gpt") + common + " --zero_stage=" + std::to_string(stage) +
                                             " --batch_size=" + std::to_string(6 / ranks), 300);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("initialized from the Hugging Face folder " + model), std::string::npos) << r.output;
    losses.push_back(val_loss_at(r.output, 0));
  }
  EXPECT_GT(losses[0], 0);
  EXPECT_EQ(losses[1], losses[0]);
  EXPECT_EQ(losses[2], losses[0]);
  const RunResult shape = run_ranks(1, bin("train_gpt") + common + " --n_layer=3", 300);
  EXPECT_EQ(shape.exit_code, 2);
  EXPECT_NE(shape.output.find("a pretrained GPT-2 keeps its shape"), std::string::npos) << shape.output;
}
