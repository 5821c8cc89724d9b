// zsrun --max_restarts: a rank killed at step 37 of 60 (checkpoints every 10 steps) brings the job
// down, zsrun starts it again, train_gpt resumes from global_step30, and the run ends exactly where
// an uninterrupted one does: the same final loss, bit-identical weights and optimizer state.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "support/run_ranks.hpp"
#include "support/error_of.hpp"

namespace test_restart {

namespace {

using zs::testing::bin;
using zs::testing::RunResult;

using zs::testing::contains;

RunResult train(const std::string& out_dir, const std::string& zsrun_flags, const std::string& env = "") {
  const std::string args = " --device=cpu --dtype=float32 --n_layer=2 --n_head=2 --n_embd=32 --block_size=32 "
                           "--batch_size=4 --max_iters=60 --eval_interval=0 --log_interval=1 --learning_rate=3e-3 "
                           "--warmup_iters=5 --lr_decay_iters=60 --sample_tokens=0 --save_interval=10 --out_dir=" +
                           out_dir;
  return zs::testing::run_command("env " + env + " ZS_HANG_TIMEOUT=30 " + bin("zsrun") + " --num_procs 2 " + zsrun_flags +
                                      " " + bin("train_gpt") + args,
                                  300);
}

// The loss train_gpt's step log printed for `step` (the last such line), "" when absent.
std::string loss_at(const std::string& output, int step) {
  const std::regex line("step " + std::to_string(step) + "/[0-9]+ \\| loss ([0-9.]+)");
  std::smatch m;
  std::string last;
  for (auto it = std::sregex_iterator(output.begin(), output.end(), line); it != std::sregex_iterator(); ++it)
    last = (*it)[1];
  return last;
}

}  // namespace

TEST(Restart, KilledRankResumesToTheUninterruptedResult) {
  const std::string dir = zs::testing::temp_dir("restart");
  const RunResult plain = train(dir + "/plain", "");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;

  const RunResult restarted = train(dir + "/restarted", "--max_restarts 1", "ZS_TEST_FAULT=1:37:KILL");
  ASSERT_EQ(restarted.exit_code, 0) << restarted.output;
  EXPECT_TRUE(contains(restarted.output, "ZS_TEST_FAULT: KILL at step 37")) << restarted.output;
  EXPECT_TRUE(contains(restarted.output, "zsrun: rank 1 exited with code 137")) << restarted.output;
  EXPECT_TRUE(contains(restarted.output, "zsrun: restarting the job (restart 1 of 1)")) << restarted.output;
  EXPECT_TRUE(contains(restarted.output, "restart 1 of the job: resuming from the newest checkpoint")) << restarted.output;
  EXPECT_TRUE(contains(restarted.output, "global_step30 at iteration 30")) << restarted.output;

  const std::string plain_loss = loss_at(plain.output, 60), restarted_loss = loss_at(restarted.output, 60);
  ASSERT_FALSE(plain_loss.empty()) << plain.output;
  EXPECT_EQ(restarted_loss, plain_loss);
  std::printf("[restart] final loss %s uninterrupted, %s after the restart\n", plain_loss.c_str(), restarted_loss.c_str());

  // Weights, and every rank's shard of master weights and optimizer state, bit for bit.
  for (const std::string run : {"plain", "restarted"}) {
    // From inside the run's folder: the file names its source ("./global_step60") the same way.
    const RunResult c = zs::testing::run_command("sh -c 'cd " + dir + "/" + run + " && " + bin("zs_ckpt") +
                                                     " consolidate . ../" + run + ".safetensors --tag global_step60'",
                                                 120);
    ASSERT_EQ(c.exit_code, 0) << c.output;
  }
  const RunResult same = zs::testing::run_command(
      "cmp " + dir + "/plain.safetensors " + dir + "/restarted.safetensors && for f in " + dir +
          "/plain/global_step60/*.safetensors; do cmp $f " + dir + "/restarted/global_step60/$(basename $f) || exit 1; "
          "echo same $(basename $f); done",
      60);
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_TRUE(contains(same.output, "same ")) << same.output;
  zs::testing::run_command("rm -rf " + dir, 30);
}

TEST(Restart, GivesUpAfterMaxRestarts) {
  // Every attempt fails (the program exits 3): one start and one restart, then zsrun stops.
  const RunResult r = zs::testing::run_command(
      bin("zsrun") + " --num_procs 2 --max_restarts 1 /bin/sh -c 'echo attempt $ZS_RESTART_COUNT; exit 3'", 60);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 0] attempt 0")) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 0] attempt 1")) << r.output;
  EXPECT_FALSE(contains(r.output, "attempt 2")) << r.output;
}

}  // namespace test_restart
