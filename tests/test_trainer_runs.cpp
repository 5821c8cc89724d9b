// train_gpt as a nanoGPT user runs it, on real ranks (zsrun + MPI): a nanoGPT config file,
// --eval_only, resuming with `latest` missing or damaged, --resume_tag, and the messages a wrong
// input gets. A tiny GPT and a few iterations keep each run to a couple of seconds.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "support/run_ranks.hpp"
#include "support/error_of.hpp"

namespace test_trainer_runs {

using namespace zs::testing;

namespace {

const std::string kTiny =
    " --device=cpu --n_head=2 --n_embd=16 --block_size=16 --batch_size=4 --eval_iters=2 --log_interval=1"
    " --sample_tokens=0 --warmup_iters=2 --lr_decay_iters=8 --learning_rate=3e-3 --min_lr=3e-4";

// train_gpt on `ranks` CPU ranks, started in `dir`.
RunResult train_gpt(int ranks, const std::string& dir, const std::string& args) {
  const std::string program = bin("train_gpt") + kTiny + " " + args;
  const std::string launch = ranks == 1 ? program : bin("zsrun") + " --num_procs " + std::to_string(ranks) + " " + program;
  return run_command("env -C " + dir + " " + launch, 120);
}

using zs::testing::contains;

int count(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// The "step N: train loss A, val loss B" line for iteration `step`, without the launcher's prefix.
std::string eval_line(const std::string& output, int step) {
  const std::regex line("step " + std::to_string(step) + ": train loss [0-9.]+, val loss [0-9.]+");
  std::smatch m;
  return std::regex_search(output, m, line) ? m.str() : std::string();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

// nanoGPT's `train.py config/train_shakespeare_char.py`, with the text as data/shakespeare_char/input.txt.
TEST(TrainerRuns, ShakespeareCharConfigFile) {
  const std::string text = std::string(ZS_SOURCE_DIR) + "/../shared/data/tinyshakespeare.txt";
  if (!exists(text)) GTEST_SKIP() << text << " is not here";
  const std::string dir = temp_dir("trainer_shakespeare");
  ASSERT_EQ(::mkdir((dir + "/data").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir + "/data/shakespeare_char").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(text.c_str(), (dir + "/data/shakespeare_char/input.txt").c_str()), 0);
  const RunResult r = train_gpt(2, dir,
                                std::string(ZS_SOURCE_DIR) + "/configs/train_shakespeare_char.py --n_layer=1 --max_iters=3 "
                                "--eval_interval=3 --eval_iters=1 --gradient_accumulation_steps=2 --sample_tokens=40");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "config file " + std::string(ZS_SOURCE_DIR) + "/configs/train_shakespeare_char.py")) << r.output;
  EXPECT_TRUE(contains(r.output, "data: data/shakespeare_char/input.txt (vocab 65)")) << r.output;
  EXPECT_TRUE(contains(r.output, "batch 8 = micro 4 x accumulation 1 x 2 ranks")) << r.output;
  EXPECT_FALSE(eval_line(r.output, 3).empty()) << r.output;
  EXPECT_TRUE(contains(r.output, "sample:")) << r.output;
  // The config file's 2-rank habit: nanoGPT's gradient_accumulation_steps is over all ranks.
  const RunResult odd = train_gpt(2, dir, std::string(ZS_SOURCE_DIR) + "/configs/train_shakespeare_char.py --max_iters=3");
  EXPECT_EQ(odd.exit_code, 2) << odd.output;
  EXPECT_TRUE(contains(odd.output, "must be a multiple of the world size")) << odd.output;
  EXPECT_EQ(count(odd.output, "train_gpt: error:"), 1) << odd.output;
}

// nanoGPT's prepared folder (train.bin, val.bin, meta.pkl), written from the same text by
// scripts/prepare_char_dataset.py: the vocabulary comes from meta.pkl, samples decode with it.
TEST(TrainerRuns, PreparedNanoGptFolder) {
  const std::string text = std::string(ZS_SOURCE_DIR) + "/../shared/data/tinyshakespeare.txt";
  if (!exists(text)) GTEST_SKIP() << text << " is not here";
  if (run_command("python3 --version").exit_code != 0) GTEST_SKIP() << "no python3";
  const std::string dir = temp_dir("trainer_prepared");
  const RunResult prepare = run_command("python3 " + std::string(ZS_SOURCE_DIR) + "/scripts/prepare_char_dataset.py " + text +
                                        " " + dir + "/data/shakespeare_char");
  ASSERT_EQ(prepare.exit_code, 0) << prepare.output;
  EXPECT_TRUE(contains(prepare.output, "vocabulary of 65")) << prepare.output;
  const RunResult r = train_gpt(1, dir, std::string(ZS_SOURCE_DIR) + "/configs/train_shakespeare_char.py --n_layer=1 "
                                "--max_iters=2 --eval_interval=2 --eval_iters=1 --sample_tokens=40 --out_dir=");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "data: data/shakespeare_char (vocab 65)")) << r.output;
  EXPECT_TRUE(contains(r.output, "sample:")) << r.output;
  EXPECT_FALSE(eval_line(r.output, 2).empty()) << r.output;
}

// --eval_only prints the evaluation of the weights it starts from and stops: after a resume it
// repeats the saved run's last evaluation exactly, and writes no checkpoint.
TEST(TrainerRuns, EvalOnly) {
  const std::string dir = temp_dir("trainer_eval_only");
  const RunResult train = train_gpt(2, dir, "--n_layer=1 --max_iters=4 --eval_interval=2 --out_dir=ck");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string last = eval_line(train.output, 4);
  ASSERT_FALSE(last.empty()) << train.output;
  EXPECT_TRUE(exists(dir + "/ck/global_step2") && exists(dir + "/ck/global_step4")) << train.output;

  const RunResult eval = train_gpt(2, dir, "--n_layer=1 --out_dir=ck --init_from=resume --eval_only");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_EQ(eval_line(eval.output, 4), last) << eval.output;
  EXPECT_FALSE(contains(eval.output, "step 1/")) << eval.output;   // no training step
  EXPECT_FALSE(contains(eval.output, "saved checkpoint")) << eval.output;
  EXPECT_FALSE(exists(dir + "/ck/global_step5"));

  // From scratch: the initial weights' losses, near ln(vocab).
  const RunResult fresh = train_gpt(1, dir, "--n_layer=1 --eval_only --out_dir=ck2");
  ASSERT_EQ(fresh.exit_code, 0) << fresh.output;
  EXPECT_FALSE(eval_line(fresh.output, 0).empty()) << fresh.output;
  EXPECT_FALSE(exists(dir + "/ck2"));
}

// always_save_checkpoint=False saves only when the val loss improved. With a learning rate far
// below float32's resolution of the weights nothing changes, so nothing improves.
TEST(TrainerRuns, AlwaysSaveCheckpoint) {
  const std::string dir = temp_dir("trainer_always_save");
  const std::string still = "--n_layer=1 --max_iters=4 --eval_interval=2 --learning_rate=1e-12 --min_lr=0 --keep_last=0 ";
  RunResult r = train_gpt(1, dir, still + "--out_dir=only_improved --always_save_checkpoint=False");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(eval_line(r.output, 4).substr(eval_line(r.output, 4).find(':')), eval_line(r.output, 0).substr(eval_line(r.output, 0).find(':')))
      << r.output;
  EXPECT_FALSE(contains(r.output, "saved checkpoint")) << r.output;
  r = train_gpt(1, dir, still + "--out_dir=always");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(exists(dir + "/always/global_step2") && exists(dir + "/always/global_step4")) << r.output;
}

// --resume_tag picks a checkpoint; the resumed run continues exactly as the uninterrupted one.
TEST(TrainerRuns, ResumeTagPicksACheckpoint) {
  const std::string dir = temp_dir("trainer_resume_tag");
  const RunResult train = train_gpt(2, dir, "--n_layer=1 --max_iters=6 --eval_interval=2 --keep_last=0 --out_dir=ck");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string final_eval = eval_line(train.output, 6);
  ASSERT_FALSE(final_eval.empty()) << train.output;

  // The model's shape comes from the checkpoint, as nanoGPT's resume takes it from ckpt.pt.
  const RunResult resumed = train_gpt(2, dir, "--max_iters=6 --eval_interval=2 --keep_last=0 --out_dir=ck --resume_tag=global_step4");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "resumed from ck/global_step4 at iteration 4")) << resumed.output;
  EXPECT_EQ(eval_line(resumed.output, 6), final_eval) << resumed.output;

  // A shape flag that contradicts the checkpoint is an error naming both.
  const RunResult shape = train_gpt(1, dir, "--n_layer=2 --max_iters=6 --out_dir=ck --init_from=resume");
  EXPECT_EQ(shape.exit_code, 2) << shape.output;
  EXPECT_TRUE(contains(shape.output, "--n_layer=2 differs from n_layer = 1 of the checkpoint")) << shape.output;

  // A checkpoint another trainer wrote (its client state says which).
  {
    std::ifstream in(dir + "/ck/global_step2/index.json");
    std::string index((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t at = index.find("\"trainer\": \"train_gpt\"");
    ASSERT_NE(at, std::string::npos) << index;
    index.replace(at, 24, "\"trainer\": \"train_cnn\"");
    std::ofstream(dir + "/ck/global_step2/index.json") << index;
  }
  const RunResult other = train_gpt(1, dir, "--max_iters=6 --out_dir=ck --resume_tag=global_step2");
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_TRUE(contains(other.output, "ck/global_step2 was written by train_cnn")) << other.output;

  // A tag that is not there: the listing.
  const RunResult missing = train_gpt(2, dir, "--max_iters=6 --out_dir=ck --resume_tag=global_step5");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_TRUE(contains(missing.output, "ck/global_step5 does not exist")) << missing.output;
  EXPECT_TRUE(contains(missing.output, "--resume_tag=global_step6")) << missing.output;
}

// `latest` missing, naming a missing tag, or naming a damaged checkpoint: resume lists what is
// there, names the newest sound checkpoint, and says how to take it.
TEST(TrainerRuns, ResumeWhenLatestIsNotUsable) {
  const std::string dir = temp_dir("trainer_latest");
  const RunResult train = train_gpt(2, dir, "--n_layer=1 --max_iters=6 --eval_interval=2 --keep_last=0 --out_dir=ck");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string resume = "--max_iters=6 --eval_interval=2 --keep_last=0 --out_dir=ck --init_from=resume";

  // A flipped byte: found by the CRC check while loading.
  flip_byte(dir + "/ck/global_step6/rank_1_of_2.safetensors", 200);
  RunResult r = train_gpt(2, dir, resume);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "rank_1_of_2.safetensors is corrupted (crc32 mismatch)")) << r.output;
  EXPECT_TRUE(contains(r.output, "global_step6 (step 6): damaged")) << r.output;
  EXPECT_TRUE(contains(r.output, "The newest sound checkpoint is global_step4; to resume from it: --resume_tag=global_step4"))
      << r.output;
  EXPECT_EQ(count(r.output, "train_gpt: error:"), 1) << r.output;

  // zs_ckpt list says the same without starting a run.
  const RunResult list = run_command(bin("zs_ckpt") + " list " + dir + "/ck");
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_TRUE(contains(list.output, "global_step6 (step 6): damaged: shard rank_1_of_2.safetensors is corrupted")) << list.output;
  EXPECT_TRUE(contains(list.output, "--resume_tag=global_step4")) << list.output;
  const RunResult missing_dir = run_command(bin("zs_ckpt") + " list " + dir + "/nothere");
  EXPECT_EQ(missing_dir.exit_code, 1) << missing_dir.output;
  EXPECT_TRUE(contains(missing_dir.output, "There is no folder " + dir + "/nothere.")) << missing_dir.output;

  // A truncated shard: found before loading.
  ASSERT_EQ(::truncate((dir + "/ck/global_step6/rank_0_of_2.safetensors").c_str(), 100), 0);
  r = train_gpt(2, dir, resume);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "ck/latest names global_step6, which is damaged (shard rank_0_of_2.safetensors is truncated)"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "--resume_tag=global_step4")) << r.output;

  // `latest` naming a tag that is gone, then no `latest` at all.
  std::ofstream(dir + "/ck/latest") << "global_step9\n";
  r = train_gpt(1, dir, resume);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "ck/latest names global_step9, which does not exist")) << r.output;
  ASSERT_EQ(std::remove((dir + "/ck/latest").c_str()), 0);
  r = train_gpt(1, dir, resume);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "ck/latest does not exist")) << r.output;
  EXPECT_TRUE(contains(r.output, "global_step2 (step 2)")) << r.output;

  // Taking the advice works.
  r = train_gpt(2, dir, resume + " --resume_tag=global_step4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "resumed from ck/global_step4 at iteration 4")) << r.output;
  EXPECT_TRUE(contains(r.output, "saved checkpoint ck/global_step6")) << r.output;

  // A new run from scratch into a directory of checkpoints would mix two runs: refused.
  r = train_gpt(1, dir, "--n_layer=1 --max_iters=2 --out_dir=ck");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "already holds checkpoints")) << r.output;
  // Resume without --out_dir, and from a directory that is not there.
  r = train_gpt(1, dir, "--n_layer=1 --init_from=resume");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--init_from=resume needs --out_dir")) << r.output;
  r = train_gpt(1, dir, "--n_layer=1 --init_from=resume --out_dir=elsewhere");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "elsewhere does not exist")) << r.output;
}

// --init_from=gpt2 takes the copy transformers keeps in the Hugging Face cache: here a tiny GPT
// of ours, exported as a GPT-2 folder (zs_ckpt export-hf) into a cache's layout.
TEST(TrainerRuns, InitFromGpt2FindsTheHuggingFaceCache) {
  const std::string dir = temp_dir("trainer_hub");
  const RunResult train = train_gpt(1, dir, "--n_layer=1 --bias=True --max_iters=2 --eval_interval=0 --out_dir=ck");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string snapshot = dir + "/hub/models--openai-community--gpt2/snapshots/0123abc";
  const RunResult exported = run_command(bin("zs_ckpt") + " export-hf " + dir + "/ck " + snapshot + " --n_head 2");
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  ASSERT_EQ(::mkdir((dir + "/hub/models--openai-community--gpt2/refs").c_str(), 0755), 0);
  std::ofstream(dir + "/hub/models--openai-community--gpt2/refs/main") << "0123abc";
  // Every shape flag is left out: the folder's config.json gives them.
  const std::string program = "env HF_HUB_CACHE=" + dir + "/hub " + bin("train_gpt") +
                              " --device=cpu --init_from=gpt2 --eval_only --eval_iters=1 --batch_size=2";
  RunResult r = run_command("env -C " + dir + " " + program, 120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "init_from gpt2: the Hugging Face cache's copy, " + snapshot)) << r.output;
  EXPECT_FALSE(eval_line(r.output, 0).empty()) << r.output;
  // Not in the cache: how to fetch it.
  r = run_command("env -C " + dir + " env HF_HUB_CACHE=" + dir + "/empty " + bin("train_gpt") + " --device=cpu --init_from=gpt2-xl", 60);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "huggingface-cli download openai-community/gpt2-xl")) << r.output;
}

// What a wrong input gets: one clear message, exit code 2.
TEST(TrainerRuns, WrongInputsGetOneMessage) {
  const std::string dir = temp_dir("trainer_inputs");
  struct Case {
    std::string args, expected;
  };
  ASSERT_EQ(::mkdir((dir + "/data").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir + "/data/half").c_str(), 0755), 0);
  std::ofstream(dir + "/data/half/train.bin") << std::string(200, 'a');
  ASSERT_EQ(::mkdir((dir + "/hf").c_str(), 0755), 0);
  std::ofstream(dir + "/hf/config.json") << "{}";
  std::ofstream(dir + "/hf/model.safetensors") << "x";
  const std::vector<Case> cases = {
      {"--max_iters=-1", "--max_iters=-1: must be 0 or more"},
      {"--dataset=nothere", "data/nothere (nanoGPT's layout), which does not exist"},
      {"--dataset=half", "data/half has train.bin but no val.bin"},
      {"--init_from=hf/model.safetensors", "pass the folder, --init_from=hf"},
      {"--init_from=gpt2", "reads local files only"},
      {"--init_from=ckpt.pt", "no such file or folder"},
      {"--n_embd=15", "model:"},
      {"--compile=True", "no torch.compile"},
      {"--cuda_graph=True", "--cuda_graph=True: CUDA graphs need a GPU; this run is on cpu"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    // Two ranks for the first two (one message for the job), one rank for the rest (faster).
    const RunResult r = train_gpt(i < 2 ? 2 : 1, dir, "--n_layer=1 --max_iters=2 " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.expected)) << c.args << "\n" << r.output;
    EXPECT_EQ(count(r.output, "train_gpt: error:"), 1) << c.args << "\n" << r.output;
  }
}

// --log_interval acts also with a DeepSpeed config (it replaces steps_per_print) and says so.
// A DeepSpeed config's own lr leads nanoGPT's schedule when --learning_rate is not given (it
// used to peak at the flag's default), with min_lr at the same ratio to it.
TEST(TrainerRuns, ConfigLrLeadsNanoGptSchedule) {
  const std::string dir = temp_dir("trainer_config_lr");
  write_text(dir + "/ds.json", R"({"train_micro_batch_size_per_gpu": 4,
    "optimizer": {"type": "Lion", "params": {"lr": 0.01, "weight_decay": 0.1}}})");
  const RunResult r = run_command(bin("train_gpt") + " --device=cpu --n_layer=1 --n_head=2 --n_embd=16 --block_size=16"
                                  " --eval_interval=0 --log_interval=1 --sample_tokens=0 --warmup_iters=2"
                                  " --lr_decay_iters=8 --max_iters=4 --deepspeed_config=" + dir + "/ds.json", 120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "lr schedule: nanoGPT's (decay_lr True) with the config's lr 0.01, min_lr 0.001")) << r.output;
  EXPECT_TRUE(contains(r.output, "| lr 1.00e-02 |")) << r.output;  // the peak, after the 2 warm-up iterations
  // A --min_lr above --learning_rate's default (6e-4) but under the config's lr is the user's floor;
  // above the config's lr it is an error that names the peak.
  const std::string run = bin("train_gpt") + " --device=cpu --n_layer=1 --n_head=2 --n_embd=16 --block_size=16"
                          " --eval_interval=0 --sample_tokens=0 --max_iters=1 --deepspeed_config=" + dir + "/ds.json";
  const RunResult floor = run_command(run + " --min_lr=0.002", 120);
  ASSERT_EQ(floor.exit_code, 0) << floor.output;
  EXPECT_TRUE(contains(floor.output, "with the config's lr 0.01, min_lr 0.002")) << floor.output;
  const RunResult above = run_command(run + " --min_lr=0.02", 120);
  EXPECT_EQ(above.exit_code, 2) << above.output;
  EXPECT_TRUE(contains(above.output, "--min_lr=0.02 is above the schedule's peak lr 0.01 (the config's "
                                     "optimizer.params.lr)")) << above.output;
}

TEST(TrainerRuns, LogIntervalWithDeepSpeedConfig) {
  const std::string dir = temp_dir("trainer_log_interval");
  const RunResult r = train_gpt(2, dir, "--n_layer=1 --max_iters=4 --eval_interval=0 --log_interval=2 "
                                        "--deepspeed_config=" + std::string(ZS_SOURCE_DIR) + "/configs/demo_zero2.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "--log_interval replaces steps_per_print 25")) << r.output;
  EXPECT_TRUE(contains(r.output, "step 2/4 |")) << r.output;
  EXPECT_TRUE(contains(r.output, "step 4/4 |")) << r.output;
  EXPECT_FALSE(contains(r.output, "step 3/4 |")) << r.output;
  EXPECT_TRUE(contains(r.output, "training on 2 ranks (cpu): tok/s and MFU are per rank")) << r.output;
  EXPECT_FALSE(contains(r.output, "per GPU")) << r.output;
}

}  // namespace test_trainer_runs
