// ZeRO++ at stage 3 (zero_quantized_weights: qwZ, zero_quantized_gradients: qgZ,
// zero_hpz_partition_size: hpZ) on real CPU ranks through zsrun, training the tiny GPT of the
// equivalence tests (gradient clipping on in every run):
//   - hpZ alone changes no value (its re-gathers copy what the forward gathered): the same bits as
//     plain stage 3, and the backward's re-gathers come from the secondary partition;
//   - every combination stays close to plain stage 3 on 2 and 4 ranks (4 ranks with hpZ 2: two
//     emulated nodes, so qgZ takes its two hops, int4 within and int8 across);
//   - with bf16, gradient accumulation and activation checkpointing, fp16 with overflows, and with
//     CPU and NVMe offload;
//   - checkpoints written with ZeRO++ on load with it off and the other way round (they hold the
//     fp32 masters, which quantization never touches), and an hpZ run resumes bit for bit.
#include <gtest/gtest.h>

#include <cstdlib>

#include "support/equivalence.hpp"
#include "test_ckpt_support.hpp"

namespace test_zeropp {

using namespace zs::testing;

namespace {

const std::string kQwz = R"(, "zero_quantized_weights": true)";
const std::string kQgz = R"(, "zero_quantized_gradients": true)";
std::string hpz(int g) { return R"(, "zero_hpz_partition_size": )" + std::to_string(g); }

// Over 8 steps of the tiny GPT, int8 weights (and int8/int4 gradients) move the losses by well under
// a percent; the final weights by a few percent of their norm (Adam turns small gradient errors
// into full-size steps on elements whose gradients are near zero).
// The two-hop qgZ (int4 within the node) moves them most: ~5e-3 in the loss, ~4e-2 in the weights.
constexpr double kLossTolerance = 1e-2;
constexpr double kWeightTolerance = 6e-2;

RunSetup stage3(int world, const std::string& zeropp, const std::string& dtype = "fp32", int accum = 2) {
  RunSetup s;
  s.stage = 3;
  s.world = world;
  s.accum = accum;
  s.dtype = dtype;
  s.zero_extra = zeropp;
  return s;
}

void expect_close(const nlohmann::json& got, const nlohmann::json& plain, const std::string& what,
                  double loss_tolerance = kLossTolerance, double weight_tolerance = kWeightTolerance) {
  ASSERT_FALSE(got.is_null()) << what;
  ASSERT_FALSE(plain.is_null()) << what;
  const auto [loss_diff, weight_diff] = difference(got, plain);
  std::printf("[zeropp] %s: max loss rel diff %.2e, weight rel diff %.2e\n", what.c_str(), loss_diff, weight_diff);
  EXPECT_LT(loss_diff, loss_tolerance) << what;
  EXPECT_LT(weight_diff, weight_tolerance) << what;
  EXPECT_LT(got["loss"].back().get<double>(), got["loss"].front().get<double>()) << what << ": the loss falls";
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(ZeroPlusPlus, HpzAloneGivesTheSameBitsAndReGathersWithinTheGroup) {
  const RunSetup plain = stage3(4, "");
  const RunSetup with_hpz = stage3(4, hpz(2));
  const std::string dir = temp_dir("hpz");
  write_text(dir + "/config.json", config_json(with_hpz));
  setenv("ZS_TRACE_UNITS", "1", 1);
  const RunResult r = run_ranks(4, bin("tests/train_tiny") + " --config " + dir + "/config.json --out " + dir +
                                       "/result.json --steps " + std::to_string(kSteps));
  unsetenv("ZS_TRACE_UNITS");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto [loss_diff, weight_diff] = difference(read_json(dir + "/result.json"), train(plain));
  EXPECT_EQ(loss_diff, 0);
  EXPECT_EQ(weight_diff, 0);
  // Rank 0's trace: gathers from the primary shards once per unit and step (and the exact gathers
  // for the final weights), the rest from the secondary partition within the 2-rank group.
  const std::string rank0 = "[unit trace] rank 0 ";
  size_t primary = 0, secondary = 0, fills = 0;
  for (size_t at = r.output.find(rank0); at != std::string::npos; at = r.output.find(rank0, at + 1)) {
    const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
    if (line.find(": start gather from the secondary partition") != std::string::npos) ++secondary;
    else if (line.find(": start gather") != std::string::npos) ++primary;
    if (line.find(": secondary partition filled") != std::string::npos) ++fills;
  }
  std::printf("[zeropp] hpZ trace, rank 0: %zu gathers from the primary shards, %zu from the secondary partition, "
              "%zu fills\n", primary, secondary, fills);
  const size_t units = 2;
  EXPECT_EQ(fills, units * kSteps);                 // refreshed after every step
  EXPECT_EQ(primary, units * kSteps + units);       // + FullParameters' exact gathers at the end
  EXPECT_GE(secondary, units * kSteps);             // backward and the second micro-step's forward
}

TEST(ZeroPlusPlus, EveryCombinationStaysCloseToPlainStage3OnFourRanks) {
  const nlohmann::json plain = train(stage3(4, ""));
  for (const auto& [name, zeropp] : std::vector<std::pair<std::string, std::string>>{
           {"qwZ", kQwz},
           {"qgZ (two hops over 2 emulated nodes: hpZ 2 makes the node groups)", kQgz + hpz(2)},
           {"qgZ (one hop: one node of 4)", kQgz},
           {"qwZ + qgZ", kQwz + kQgz},
           {"qwZ + hpZ", kQwz + hpz(2)},
           {"qwZ + qgZ + hpZ", kQwz + kQgz + hpz(2)}}) {
    expect_close(train(stage3(4, zeropp)), plain, name + ", 4 ranks");
  }
}

TEST(ZeroPlusPlus, TwoRanks) {
  const nlohmann::json plain = train(stage3(2, ""));
  expect_close(train(stage3(2, kQwz + kQgz)), plain, "qwZ + qgZ, 2 ranks");
  expect_close(train(stage3(2, kQwz + kQgz + hpz(2))), plain, "qwZ + qgZ + hpZ 2, 2 ranks");
}

TEST(ZeroPlusPlus, Bf16WithAccumulationAndActivationCheckpointing) {
  const std::string all = kQwz + kQgz + hpz(2);
  const nlohmann::json plain = train(stage3(4, "", "bf16", 2), "--activation_checkpointing");
  expect_close(train(stage3(4, all, "bf16", 2), "--activation_checkpointing"), plain,
               "bf16, accumulation 2, activation checkpointing, qwZ + qgZ + hpZ");
  // The gradients reduced in fp32 (communication_data_type) go through the same codec.
  RunSetup fp32_reduce = stage3(2, all, "bf16", 4);
  fp32_reduce.comm_dtype = "fp32";
  RunSetup plain_fp32_reduce = stage3(2, "", "bf16", 4);
  plain_fp32_reduce.comm_dtype = "fp32";
  expect_close(train(fp32_reduce), train(plain_fp32_reduce), "bf16 with fp32 reduction, accumulation 4, qwZ + qgZ + hpZ");
}

TEST(ZeroPlusPlus, WithCpuOffload) {
  const nlohmann::json plain = train(stage3(2, ""));
  const std::string offload_both = R"(, "offload_optimizer": {"device": "cpu"}, "offload_param": {"device": "cpu"})";
  const std::string offload_optimizer = R"(, "offload_optimizer": {"device": "cpu"})";
  expect_close(train(stage3(2, kQwz + kQgz + offload_both)), plain, "qwZ + qgZ, optimizer and parameters offloaded");
  expect_close(train(stage3(2, kQwz + kQgz + hpz(2) + offload_optimizer)), plain, "qwZ + qgZ + hpZ, optimizer offloaded");
  // Parameter shards in files: every gather reads its shard first, then quantizes it.
  const std::string nvme = temp_dir("zeropp_nvme");
  const std::string param_files =
      R"(, "stage3_max_reuse_distance": 0, "offload_param": {"device": "nvme", "nvme_path": ")" + nvme +
      R"(", "buffer_count": 2})";
  RunSetup in_files = stage3(2, kQwz + kQgz + offload_optimizer + param_files);
  in_files.prefetch_bucket = 1000000;
  expect_close(train(in_files), plain, "qwZ + qgZ, parameters on NVMe");
}

// fp16 with dynamic loss scaling: an inf in one rank's gradient survives the quantized reduction
// (its block comes back as NaN), so every rank skips the step and the scale follows the rules.
TEST(ZeroPlusPlus, Fp16OverflowSkipsTheStepOnEveryRank) {
  const nlohmann::json got = train(stage3(4, kQwz + kQgz + hpz(2), "fp16", 2), "--poison_steps 2 3 --poison_rank 1");
  ASSERT_FALSE(got.is_null());
  const std::vector<bool> skipped = got["skipped"];
  const std::vector<double> scale = got["loss_scale"];
  for (int i = 0; i < kSteps; ++i) EXPECT_EQ(skipped[i], i == 2 || i == 3) << "step " << i;
  EXPECT_EQ(scale[2], 256.0) << "hysteresis: the first overflow keeps the scale";
  EXPECT_EQ(scale[3], 128.0) << "the second overflow halves it";
  const nlohmann::json plain = train(stage3(4, "", "fp16", 2), "--poison_steps 2 3 --poison_rank 1");
  ASSERT_FALSE(plain.is_null());
  EXPECT_EQ(plain["skipped"], got["skipped"]);
  expect_close(got, plain, "fp16 with injected overflows, qwZ + qgZ + hpZ");
}

TEST(ZeroPlusPlus, CheckpointsLoadWithAndWithoutIt) {
  const std::string dir = temp_dir("zeropp_ckpt");
  const RunSetup on = stage3(4, kQwz + kQgz + hpz(2)), off = stage3(4, "");
  // Written with ZeRO++ on: after loading with it off, the weights are the saving run's (the fp32
  // masters, bit for bit), and training goes on close to an uninterrupted plain run.
  const TinyRun saved_on = run_tiny(on, dir, "saved_on", "--steps 4 --save_dir " + dir + "/on --save_at 4");
  const TinyRun loaded_off_only = run_tiny(off, dir, "loaded_off_only", "--steps 4 --load_dir " + dir + "/on");
  const TinyRun continued_off = run_tiny(off, dir, "continued_off", "--steps 8 --load_dir " + dir + "/on");
  // Written with it off, loaded with it on.
  const TinyRun saved_off = run_tiny(off, dir, "saved_off", "--steps 8 --save_dir " + dir + "/off --save_at 4");
  const TinyRun loaded_on_only = run_tiny(on, dir, "loaded_on_only", "--steps 4 --load_dir " + dir + "/off");
  const TinyRun continued_on = run_tiny(on, dir, "continued_on", "--steps 8 --load_dir " + dir + "/off");
  for (const TinyRun* r : {&saved_on, &loaded_off_only, &continued_off, &saved_off, &loaded_on_only, &continued_on})
    ASSERT_EQ(r->run.exit_code, 0) << r->run.output;
  EXPECT_EQ(loaded_off_only.result["global_steps_after_load"], 4);
  EXPECT_EQ(loaded_off_only.result["params"], saved_on.result["params"]);
  EXPECT_EQ(continued_off.result["loss"].size(), 4u);
  // loaded_on_only ran no step: its weights are the checkpoint's, gathered exactly.
  EXPECT_EQ(loaded_on_only.result["params"], run_tiny(off, dir, "off4", "--steps 4").result["params"]);
  nlohmann::json tail_off = saved_off.result;
  tail_off["loss"] = nlohmann::json(std::vector<double>(saved_off.result["loss"].begin() + 4, saved_off.result["loss"].end()));
  expect_close(continued_on.result, tail_off, "ZeRO++ on after a checkpoint written with it off");
  expect_close(continued_off.result, tail_off, "ZeRO++ off after a checkpoint written with it on");
}

TEST(ZeroPlusPlus, HpzResumesBitForBit) {
  expect_bitwise_resume(stage3(4, hpz(2), "fp32", 1), temp_dir("hpz_resume"), 6, 3);
}

}  // namespace

}  // namespace test_zeropp
