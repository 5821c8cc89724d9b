// A real SLURM on this machine (scripts/local_slurm.sh: munged, slurmctld, slurmd from Debian):
// `sbatch scripts/run.slurm` trains to the same losses as zsrun on as many ranks, zsrun
// --launcher slurm lays the ranks out and stops them all on a failure, and a CPU rank srun started
// without an MPI plugin says what to do. Skipped, saying why, without root or SLURM's packages.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "support/run_ranks.hpp"
#include "support/error_of.hpp"

namespace {

using zs::testing::bin;
using zs::testing::RunResult;

using zs::testing::contains;

// The losses train_gpt printed (step log and evaluations), in order.
std::vector<std::string> losses(const std::string& output) {
  std::vector<std::string> out;
  const std::regex loss(R"((step \d+/\d+ \| loss [0-9.]+|step \d+: train loss [0-9.]+, val loss [0-9.]+))");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), loss); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

class Slurm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = zs::testing::temp_dir("slurm");
    RunResult have = zs::testing::run_command("sh -c '[ $(id -u) = 0 ] && command -v slurmctld && command -v slurmd && "
                                              "command -v munged && command -v sbatch'",
                                              30);
    if (have.exit_code != 0) {
      why_ = "needs root and SLURM (apt install slurmctld slurmd slurm-client munge)";
      return;
    }
    RunResult up = zs::testing::run_command(std::string(ZS_SOURCE_DIR) + "/scripts/local_slurm.sh up " + dir_, 90);
    if (up.exit_code != 0) {
      why_ = "local_slurm.sh up failed: " + up.output;
      return;
    }
    ok_ = true;
  }
  static void TearDownTestSuite() {
    zs::testing::run_command(std::string(ZS_SOURCE_DIR) + "/scripts/local_slurm.sh down " + dir_, 60);
    zs::testing::run_command("rm -rf " + dir_, 30);
  }
  void SetUp() override {
    if (!ok_) GTEST_SKIP() << why_;
  }
  // sbatch --wait of `args` from the source folder; returns the job's output file.
  static RunResult sbatch(const std::string& args, const std::string& out) {
    RunResult r = zs::testing::run_command("sh -c 'cd " + std::string(ZS_SOURCE_DIR) + " && SLURM_CONF=" + dir_ +
                                               "/slurm.conf sbatch --wait --output=" + out + " " + args + "'",
                                           240);
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    r.output += "\n--- job output ---\n" + text.str();
    return r;
  }
  static inline std::string dir_, why_;
  static inline bool ok_ = false;
};

const std::string kTrain = "--device=cpu --dtype=float32 --n_layer=2 --n_head=2 --n_embd=64 --block_size=64 "
                           "--batch_size=8 --max_iters=40 --learning_rate=3e-3 --warmup_iters=5 --lr_decay_iters=40 "
                           "--eval_interval=20 --eval_iters=4 --log_interval=10 --sample_tokens=0";

}  // namespace

TEST_F(Slurm, RunSlurmTrainsToTheSameLossesAsZsrun) {
  // run.slurm's own training flags (kTrain) with 2 tasks, against the same run through zsrun.
  RunResult job = sbatch("scripts/run.slurm", dir_ + "/run.out");
  ASSERT_TRUE(contains(job.output, "job ")) << job.output;
  const std::vector<std::string> got = losses(job.output);
  ASSERT_EQ(got.size(), 7u) << job.output;  // 4 step lines, 3 evaluations
  RunResult local = zs::testing::run_command("env OMP_NUM_THREADS=1 " + bin("zsrun") + " --num_procs 2 " + bin("train_gpt") +
                                                 " " + kTrain,
                                             240);
  ASSERT_EQ(local.exit_code, 0) << local.output;
  EXPECT_EQ(got, losses(local.output)) << job.output << "\n" << local.output;
  std::printf("[slurm] sbatch run.slurm, 2 tasks: %s\n", got.back().c_str());
}

TEST_F(Slurm, ZsrunLaysOutTheTasksAndStopsThemAll) {
  RunResult ok = sbatch("--ntasks=2 --wrap \"" + bin("zsrun") + " --launcher slurm --num_procs 2 " + bin("tests/dist_probe") +
                            "\"",
                        dir_ + "/probe.out");
  EXPECT_TRUE(contains(ok.output, " rank 1] rank 1 ok: 36 checks")) << ok.output;
  RunResult failed = sbatch("--ntasks=2 --wrap \"" + bin("zsrun") + " --launcher slurm --num_procs 2 " +
                                bin("tests/dist_probe") + " --fail-rank 1 --mode kill; echo zsrun exit code \\$?\"",
                            dir_ + "/fail.out");
  EXPECT_TRUE(contains(failed.output, "zsrun: rank 1 on ")) << failed.output;
  EXPECT_TRUE(contains(failed.output, "exited with code 137")) << failed.output;
  EXPECT_TRUE(contains(failed.output, "zsrun exit code 137")) << failed.output;
}

TEST_F(Slurm, SrunWithoutMpiPluginSaysWhatToDo) {
  RunResult r = sbatch("--ntasks=2 --wrap \"srun --mpi=none " + bin("tests/dist_probe") + "\"", dir_ + "/none.out");
  EXPECT_TRUE(contains(r.output, "started by srun without an MPI plugin")) << r.output;
  EXPECT_FALSE(contains(r.output, "MPI_ABORT")) << r.output;
}

TEST_F(Slurm, DeadRankEndsTheJobWithoutKillOnBadExit) {
  // With --kill-on-bad-exit=0 SLURM may let the other tasks run on when one dies: the watchdog's
  // liveness link ends them. (Where SLURM's PMIx plugin cancels the step itself, it ends first.)
  RunResult r = sbatch("--ntasks=2 --wrap \"s=\\$(date +%s); srun --mpi=pmix --kill-on-bad-exit=0 " +
                           bin("tests/dist_probe") + " --fail-rank 1 --mode kill; echo elapsed \\$((\\$(date +%s) - s))\"",
                       dir_ + "/dead.out");
  EXPECT_TRUE(contains(r.output, "[zeroshard] watchdog on rank 0: rank 1 died: its connection to rank 0's watchdog "
                                 "closed before it finished") ||
              contains(r.output, "CANCELLED"))
      << r.output;
  const std::regex real(R"(elapsed ([0-9]+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, real)) << r.output;
  EXPECT_LT(std::stod(m[1]), 10.0) << r.output;
}
