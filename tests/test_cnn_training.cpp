// CNNs under the engine, through real ranks (zsrun, MPI): a ResNet-18 with BatchNorm gives the same
// losses, weights and running statistics at ZeRO stages 0-3 (world size 2), and with SyncBatchNorm
// world size 2 equals world size 1 (tests/progs/train_tiny_cnn.cpp). train_cnn learns a tiny folder
// of real JPEG and PNG files that the test writes, and takes DeepSpeed's image-example flags.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <torch/utils.h>

#include "support/run_ranks.hpp"
#include "zs/ckpt/module_weights.hpp"
#include "zs/data/images/image_codec.hpp"
#include "zs/models/cnn/cnn.hpp"
#include "support/error_of.hpp"

namespace test_cnn_training {

using namespace zs::testing;

namespace {

using zs::testing::contains;

struct CnnRun {
  std::vector<double> losses;
  std::string weights;   // safetensors of parameters and buffers
};

// Global batch 16 of 64x64 images in 2 accumulation steps, SGD with momentum and clipping, two
// steps; stage 3 partitions the residual blocks. The stages add gradients in other orders (per
// micro-step reductions), so weights differ by rounding (1e-8) after the first step, and a ReLU
// whose input sits that close to zero flips: the second step's gradients then differ by 1e-4 in a
// few channels, and from there the runs drift apart at a rate of their own (a GELU network, as the
// GPT, has no such switch). The first two losses and the weights after the second step are compared.
CnnRun train_cnn_run(int stage, int world, bool sync_bn) {
  const std::string dir = temp_dir("cnn_eq");
  const int micro = 16 / (2 * world);
  write_text(dir + "/config.json", R"({"train_batch_size": 16, "train_micro_batch_size_per_gpu": )" +
                                       std::to_string(micro) + R"(, "gradient_accumulation_steps": 2,
    "gradient_clipping": 1.0, "optimizer": {"type": "SGD", "params": {"lr": 0.01, "momentum": 0.9}},
    "zero_optimization": {"stage": )" + std::to_string(stage) + R"(, "reduce_bucket_size": 200000,
      "stage3_param_persistence_threshold": 1000, "stage3_prefetch_bucket_size": 500000}})");
  const RunResult r = run_ranks(world, bin("tests/train_tiny_cnn") + " --config " + dir + "/config.json --out " + dir +
                                           "/result.json --weights " + dir + "/final.safetensors --image_size 64 --steps 2" +
                                           (sync_bn ? " --sync_bn" : ""),
                                300);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  CnnRun run;
  if (r.exit_code != 0) return run;
  const nlohmann::json result = read_json(dir + "/result.json");
  for (const auto& l : result["loss"]) run.losses.push_back(l.get<double>());
  run.weights = dir + "/final.safetensors";
  return run;
}

struct Differences {
  double loss = 0, params = 0, buffers = 0;
};

// Largest relative difference of the losses; of the parameters and of the buffers, the relative
// L2 distance over the whole model (||a - b|| / ||b||, as the GPT and Llama equivalence tests).
Differences compare(const CnnRun& a, const CnnRun& b) {
  Differences d;
  for (size_t i = 0; i < a.losses.size() && i < b.losses.size(); ++i)
    d.loss = std::max(d.loss, std::abs(a.losses[i] - b.losses[i]) / std::abs(b.losses[i]));
  zs::CnnModel ma = zs::make_cnn("resnet18", 4), mb = zs::make_cnn("resnet18", 4);
  zs::load_module_weights(*ma.module, a.weights);
  zs::load_module_weights(*mb.module, b.weights);
  auto relative_l2 = [](const auto& xs, const auto& ys) {
    double diff_sq = 0, ref_sq = 0;
    for (const auto& item : xs) {
      const at::Tensor x = item.value().to(at::kDouble), y = ys[item.key()].to(at::kDouble);
      diff_sq += (x - y).pow(2).sum().template item<double>();
      ref_sq += y.pow(2).sum().template item<double>();
    }
    return std::sqrt(diff_sq / ref_sq);
  };
  d.params = relative_l2(ma.module->named_parameters(), mb.module->named_parameters());
  d.buffers = relative_l2(ma.module->named_buffers(), mb.module->named_buffers());
  return d;
}

}  // namespace

TEST(CnnEquivalence, StagesAgreeAtWorldSizeTwo) {
  const CnnRun reference = train_cnn_run(0, 2, false);
  ASSERT_EQ(reference.losses.size(), 2u);
  for (int stage : {1, 2, 3}) {
    const CnnRun got = train_cnn_run(stage, 2, false);
    ASSERT_EQ(got.losses.size(), 2u);
    const Differences d = compare(got, reference);
    std::printf("[cnn equivalence] resnet18 stage %d vs stage 0, world 2: loss %.2e, weights %.2e, running stats %.2e\n",
                stage, d.loss, d.params, d.buffers);
    EXPECT_LT(d.loss, 1e-5);
    EXPECT_LT(d.params, 1e-5);
    EXPECT_LT(d.buffers, 1e-5);
  }
}

// With SyncBatchNorm the statistics are those of the global micro batch: world 2 (stage 3) is world
// 1. Without it each rank normalises with its own half, and the running statistics show it. The two
// world sizes convolve micro batches of 8 and 4 images, which the CPU convolution kernels may
// round differently, and the ReLU flips described above carry that into the second step (on an
// AVX2 host: losses 2.2e-5 apart, weights 8e-6, running statistics 5e-5), so the bound is 1e-4,
// far below the 1e-2 that unsynchronised statistics make.
TEST(CnnEquivalence, SyncBatchNormMakesWorldTwoEqualWorldOne) {
  const CnnRun one = train_cnn_run(0, 1, true);
  const CnnRun two = train_cnn_run(3, 2, true);
  const CnnRun unsynced = train_cnn_run(3, 2, false);
  ASSERT_EQ(one.losses.size(), 2u);
  ASSERT_EQ(two.losses.size(), 2u);
  ASSERT_EQ(unsynced.losses.size(), 2u);
  const Differences d = compare(two, one);
  std::printf("[cnn sync bn] world 2 stage 3 vs world 1: loss %.2e, weights %.2e, running stats %.2e\n", d.loss,
              d.params, d.buffers);
  EXPECT_LT(d.loss, 1e-4);
  EXPECT_LT(d.params, 1e-4);
  EXPECT_LT(d.buffers, 1e-4);
  const Differences apart = compare(unsynced, one);
  std::printf("[cnn sync bn] without it: loss %.2e, running stats %.2e\n", apart.loss, apart.buffers);
  EXPECT_GT(apart.buffers, 1e-3);
}

// Two classes of real image files (reddish and bluish, with noise), JPEG and PNG, in train/ and
// val/ folders: a ResNet-18 with SyncBatchNorm on 2 ranks gets better at them epoch by epoch.
// Four epochs: it is right on every validation image after the first (8 epochs spent half a minute
// more of the CI's time at 100%).
TEST(TrainCnn, LearnsAnImageFolderOfRealFiles) {
  const std::string dir = temp_dir("cnn_folder");
  torch::manual_seed(5);
  for (const char* split : {"train", "val"}) {
    for (int c = 0; c < 2; ++c) {
      const std::string folder = dir + "/" + split + "/" + (c == 0 ? "red" : "blue");
      ::mkdir((dir + "/" + split).c_str(), 0755);
      ::mkdir(folder.c_str(), 0755);
      const int n = std::string(split) == "train" ? 16 : 8;
      for (int i = 0; i < n; ++i) {
        at::Tensor img = at::randint(0, 120, {40, 48, 3}, at::kByte);
        img.select(2, c == 0 ? 0 : 2).add_(100 + i);   // the class's channel is brighter
        if (i % 2)
          zs::write_png_file(folder + "/" + std::to_string(i) + ".png", img);
        else
          zs::write_jpeg_file(folder + "/" + std::to_string(i) + ".jpg", img);
      }
    }
  }
  const RunResult r = run_ranks(2, bin("train_cnn") + " --device=cpu --model-type resnet18 --strategy fsdp_stage3 --data " +
                                       dir + " --image-size 32 --batch-size 4 --epochs 4 --learning-rate 0.0005 --sync-bn --workers 2",
                                600);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "data: image folder " + dir)) << r.output;
  EXPECT_TRUE(contains(r.output, "ZeRO stage 3")) << r.output;
  EXPECT_TRUE(contains(r.output, "images/s (")) << r.output;
  EXPECT_TRUE(contains(r.output, "epoch 4 of 4")) << r.output;
  EXPECT_TRUE(contains(r.output, "SyncBatchNorm")) << r.output;
  std::vector<double> top1;
  const std::regex line("val top-1 ([0-9.]+)%, top-5 ([0-9.]+)% \\(16 images\\)");
  for (std::sregex_iterator it(r.output.begin(), r.output.end(), line), end; it != end; ++it)
    top1.push_back(std::stod((*it)[1].str()));
  ASSERT_GE(top1.size(), 3u) << r.output;
  std::printf("[train_cnn] val top-1 by epoch:");
  for (double t : top1) std::printf(" %.1f%%", t);
  std::printf("\n");
  EXPECT_GT(top1.back(), top1.front()) << r.output;
  EXPECT_GE(top1.back(), 87.5) << r.output;
}

TEST(TrainCnn, DeepSpeedExampleFlagsAndClearErrors) {
  const std::string base = bin("train_cnn") + " --device=cpu --data synthetic --image-size 16 --num-classes 3 ";
  RunResult r = run_command(base + "--strategy fsdp_stage2 --zero_stage 3 --max-iters 1", 120);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--strategy=fsdp_stage2 is ZeRO stage 2 but --zero_stage=3")) << r.output;
  r = run_command(base + "--model-type alexnet --max-iters 1", 120);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "resnet18")) << r.output;   // the supported names are listed
  r = run_command(base + "--strategy zero9", 120);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_command(bin("train_cnn") + " --device=cpu --data /no/such/folder --max-iters 1", 120);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "/no/such/folder")) << r.output;
  // A short synthetic run: --max-iters wins over --epochs, the step lines count images (no
  // evaluation: a pass over the 1000 validation images is most of the run's time, and the other
  // tests check it).
  r = run_command(base + "--model-type mobilenet_v2 --strategy ddp --max-iters 2 --batch-size 2 --log_interval 1 "
                         "--eval_interval 0", 300);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "ZeRO stage 1")) << r.output;
  EXPECT_TRUE(contains(r.output, "step 2/2 | loss")) << r.output;
  EXPECT_TRUE(contains(r.output, "images/s")) << r.output;
}

// Checkpoints carry BatchNorm's running statistics: a run resumed at iteration 2 prints the same
// evaluations at iterations 2 and 4 as the run that went on (every rank evaluates rank 0's
// statistics, which the checkpoint holds). Micro batches of 64: each evaluation's pass over the
// 1000 validation images is then 8 forward passes per rank, not 63. Four iterations: the resumed
// run evaluates what it loaded, then trains two iterations from the loaded optimizer state and
// evaluates again, which is all a longer run would compare.
TEST(TrainCnn, ResumesWhereItStopped) {
  const std::string dir = temp_dir("cnn_resume");
  const std::string base = bin("train_cnn") + " --device=cpu --data synthetic --image-size 16 --num-classes 3 "
                           "--model-type resnet18 --max-iters 4 --batch-size 64 --strategy fsdp_stage3 "
                           "--eval_interval 2 --eval_iters 2 --keep_last 0 --out_dir " + dir;
  const RunResult whole = run_ranks(2, base, 300);
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  write_text(dir + "/latest", "global_step2");
  const RunResult resumed = run_ranks(2, base + " --init_from=resume", 300);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "resumed from " + dir + "/global_step2 at iteration 2")) << resumed.output;
  for (const char* step : {"step 2: ", "step 4: "}) {
    const std::regex evals(std::string("\\[train_cnn\\] ") + step + "(.*)");
    std::vector<std::string> a, b;
    for (std::sregex_iterator it(whole.output.begin(), whole.output.end(), evals), end; it != end; ++it) a.push_back((*it)[1]);
    for (std::sregex_iterator it(resumed.output.begin(), resumed.output.end(), evals), end; it != end; ++it) b.push_back((*it)[1]);
    ASSERT_EQ(a.size(), 2u) << whole.output;   // the losses, then top-1/top-5
    EXPECT_EQ(a, b) << resumed.output;
  }
}

}  // namespace test_cnn_training
