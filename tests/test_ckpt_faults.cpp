// Checkpoints under faults: a save killed midway leaves the previous checkpoint and `latest`
// usable; damaged, truncated and missing shards are named; an incompatible model or optimizer
// is a clear error; keep_last prunes old checkpoints.
#include <cstdlib>
#include <unistd.h>

#include "test_ckpt_support.hpp"

namespace test_ckpt_faults {

using namespace zs::testing;

namespace {

std::string args_save(const std::string& ck, int steps, const std::string& at) {
  return "--steps " + std::to_string(steps) + " --save_dir " + ck + " --save_at " + at;
}

struct SavedCheckpoint {
  std::string dir, ck;
};

// 2 ranks, ZeRO-2: a checkpoint at step 10.
SavedCheckpoint make_checkpoint(const std::string& tag) {
  SavedCheckpoint c{temp_dir(tag), ""};
  c.ck = c.dir + "/ck";
  const TinyRun r = run_tiny(setup_of(2, 2), c.dir, "saver", args_save(c.ck, 10, "10"));
  EXPECT_EQ(r.run.exit_code, 0) << r.run.output;
  return c;
}

TinyRun load_and_train(const SavedCheckpoint& c, int world = 2, const std::string& extra = "") {
  return run_tiny(setup_of(world, 2), c.dir, "loader", "--steps 12 --load_dir " + c.ck + " " + extra);
}

void expect_load_error(const SavedCheckpoint& c, const std::string& message) {
  const TinyRun r = load_and_train(c);
  EXPECT_NE(r.run.exit_code, 0);
  EXPECT_NE(r.run.output.find(message), std::string::npos) << "expected: " << message << "\n" << r.run.output;
}

}  // namespace

// A save killed after each rank finished k files (k = 1: before the index; k = 2: rank 0 also
// wrote the index but not renamed the directory) leaves step 10's checkpoint in place.
TEST(CheckpointFaults, KilledSaveLeavesPreviousCheckpoint) {
  for (int k : {1, 2}) {
    const SavedCheckpoint c = make_checkpoint("ckpt_kill");
    setenv("ZS_CKPT_TEST_DIE_AFTER_FILES", std::to_string(k).c_str(), 1);
    const TinyRun killed = run_tiny(setup_of(2, 2), c.dir, "killed", "--load_dir " + c.ck + " " + args_save(c.ck, 20, "20"));
    unsetenv("ZS_CKPT_TEST_DIE_AFTER_FILES");
    EXPECT_NE(killed.run.exit_code, 0) << killed.run.output;
    EXPECT_EQ(read_text(c.ck + "/latest"), "global_step10\n") << "k=" << k;
    EXPECT_NE(run_command("test -e " + c.ck + "/global_step20").exit_code, 0) << "k=" << k;
    EXPECT_EQ(run_command("ls " + c.ck + " | grep -c global_step20.tmp-").output, "1\n") << "k=" << k;

    // The previous checkpoint still loads and training continues as if nothing happened.
    const TinyRun reference = run_tiny(setup_of(2, 2), c.dir, "reference", "--steps 12");
    const TinyRun resumed = load_and_train(c);
    ASSERT_EQ(resumed.run.exit_code, 0) << resumed.run.output;
    EXPECT_EQ(resumed.result["loss"][0], reference.result["loss"][10]);
    EXPECT_EQ(resumed.result["params"], reference.result["params"]);

    // The next complete save clears the leftovers of the killed one.
    const TinyRun again = run_tiny(setup_of(2, 2), c.dir, "again", "--load_dir " + c.ck + " " + args_save(c.ck, 11, "11"));
    ASSERT_EQ(again.run.exit_code, 0) << again.run.output;
    EXPECT_EQ(read_text(c.ck + "/latest"), "global_step11\n");
    EXPECT_EQ(run_command("ls " + c.ck + " | grep tmp-").exit_code, 1) << run_command("ls " + c.ck).output;
  }
}

TEST(CheckpointFaults, FlippedByteIsNamed) {
  const SavedCheckpoint c = make_checkpoint("ckpt_flip");
  flip_byte(c.ck + "/global_step10/rank_1_of_2.safetensors", 5000);
  expect_load_error(c, "checkpoint " + c.ck + "/global_step10: shard rank_1_of_2.safetensors is corrupted (crc32 mismatch)");
}

TEST(CheckpointFaults, TruncatedShardIsNamed) {
  const SavedCheckpoint c = make_checkpoint("ckpt_trunc");
  ASSERT_EQ(truncate((c.ck + "/global_step10/rank_0_of_2.safetensors").c_str(), 1000), 0);
  expect_load_error(c, "checkpoint " + c.ck + "/global_step10: shard rank_0_of_2.safetensors is truncated");
}

TEST(CheckpointFaults, MissingShardIsNamed) {
  const SavedCheckpoint c = make_checkpoint("ckpt_missing");
  ASSERT_EQ(unlink((c.ck + "/global_step10/rank_1_of_2.safetensors").c_str()), 0);
  expect_load_error(c, "checkpoint " + c.ck + "/global_step10: shard rank_1_of_2.safetensors is missing");
}

TEST(CheckpointFaults, DamagedShardIsNamedWhenReshaping) {
  // One rank reads every file: still the damaged one is named.
  const SavedCheckpoint c = make_checkpoint("ckpt_flip1");
  flip_byte(c.ck + "/global_step10/rank_0_of_2.safetensors", 20000);
  const TinyRun r = load_and_train(c, 1);
  EXPECT_NE(r.run.exit_code, 0);
  EXPECT_NE(r.run.output.find("shard rank_0_of_2.safetensors is corrupted (crc32 mismatch)"), std::string::npos) << r.run.output;
}

TEST(CheckpointFaults, DifferentModelShapeIsAnError) {
  const SavedCheckpoint c = make_checkpoint("ckpt_shape");
  const TinyRun r = load_and_train(c, 2, "--n_embd 48");
  EXPECT_NE(r.run.exit_code, 0);
  EXPECT_NE(r.run.output.find("parameter transformer.wte.weight has shape [39, 32] in the checkpoint but [39, 48] in the model"),
            std::string::npos) << r.run.output;
}

TEST(CheckpointFaults, DifferentOptimizerIsAnError) {
  const SavedCheckpoint c = make_checkpoint("ckpt_optim");
  nlohmann::json sgd = nlohmann::json::parse(config_json(setup_of(2, 2)));
  ASSERT_EQ(sgd["optimizer"]["type"], "AdamW");
  sgd["optimizer"] = {{"type", "SGD"}, {"params", {{"lr", 0.01}, {"momentum", 0.9}}}};
  const std::string config = sgd.dump();
  const TinyRun r = run_tiny(setup_of(2, 2), c.dir, "sgd", "--steps 12 --load_dir " + c.ck, config);
  EXPECT_NE(r.run.exit_code, 0);
  EXPECT_NE(r.run.output.find("was saved with optimizer AdamW, this run uses SGD"), std::string::npos) << r.run.output;
}

TEST(CheckpointFaults, NoCheckpointIsAnError) {
  const SavedCheckpoint c{temp_dir("ckpt_none"), ""};
  const TinyRun r = run_tiny(setup_of(2, 2), c.dir, "loader", "--steps 12 --load_dir " + c.dir + "/nothing");
  EXPECT_NE(r.run.exit_code, 0);
  EXPECT_NE(r.run.output.find("no checkpoint in " + c.dir + "/nothing"), std::string::npos) << r.run.output;
}

TEST(CheckpointFaults, KeepLastPrunesOldCheckpoints) {
  const std::string dir = temp_dir("ckpt_keep");
  const TinyRun r = run_tiny(setup_of(2, 1), dir, "saver", args_save(dir + "/ck", 8, "2 4 6 8") + " --keep_last 2");
  ASSERT_EQ(r.run.exit_code, 0) << r.run.output;
  EXPECT_EQ(run_command("ls " + dir + "/ck").output, "global_step6\nglobal_step8\nlatest\n");
  EXPECT_EQ(read_text(dir + "/ck/latest"), "global_step8\n");
}

}  // namespace test_ckpt_faults
