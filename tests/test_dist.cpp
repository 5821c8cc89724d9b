// The dist layer: rank detection from every launcher's environment, the one-rank communicator,
// and real MPI collectives across processes started by zsrun (tests/progs/dist_probe.cpp).
#include <gtest/gtest.h>

#include "support/run_ranks.hpp"
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/zeros.h>

#include "zs/dist/collective_checks.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/self_communicator.hpp"
#include "zs/dist/world.hpp"
#include "support/error_of.hpp"

namespace test_dist {

namespace {

using Run = zs::testing::RunResult;

Run run(const std::string& command, int limit_s = 120) { return zs::testing::run_command(command, limit_s); }

std::string zsrun_path() { return std::string(ZS_BIN_DIR) + "/zsrun"; }

std::string probe_path() { return std::string(ZS_BIN_DIR) + "/tests/dist_probe"; }

using zs::testing::contains;

// Sets launcher variables for one test and removes every such variable before and after.
class ScopedLauncherEnv {
 public:
  explicit ScopedLauncherEnv(const std::map<std::string, std::string>& vars) {
    clear();
    for (const auto& [k, v] : vars) setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedLauncherEnv() { clear(); }

 private:
  static void clear() {
    for (const char* name :
         {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "OMPI_COMM_WORLD_RANK",
          "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE", "PMI_RANK", "PMI_SIZE",
          "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID",
          "SLURM_NTASKS_PER_NODE", "SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE", "SLURM_STEP_NODELIST",
          "SLURM_JOB_NODELIST", "ZS_COMM_TIMEOUT"}) {
      unsetenv(name);
    }
  }
};

std::string error_of(const std::map<std::string, std::string>& vars) {
  ScopedLauncherEnv env(vars);
  try {
    zs::detect_rank_info();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// ---- rank detection ------------------------------------------------------------------------------

TEST(RankInfo, SingleProcessWithoutLauncher) {
  ScopedLauncherEnv env({});
  auto info = zs::detect_rank_info();
  EXPECT_EQ(info.launcher, zs::Launcher::single);
  EXPECT_EQ(info.rank, 0);
  EXPECT_EQ(info.world_size, 1);
  EXPECT_EQ(info.master_addr, "127.0.0.1");
  EXPECT_EQ(info.master_port, 29500);
}

TEST(RankInfo, TorchrunStyleVariables) {
  ScopedLauncherEnv env({{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "4"},
                         {"MASTER_ADDR", "10.0.0.7"}, {"MASTER_PORT", "1234"}});
  auto info = zs::detect_rank_info();
  EXPECT_EQ(info.launcher, zs::Launcher::env);
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.world_size, 8);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.local_world_size, 4);
  EXPECT_EQ(info.master_addr, "10.0.0.7");
  EXPECT_EQ(info.master_port, 1234);
}

TEST(RankInfo, ExplicitVariablesWinOverMpiAndSlurm) {
  ScopedLauncherEnv env({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "0"},
                         {"OMPI_COMM_WORLD_SIZE", "4"}, {"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"}});
  auto info = zs::detect_rank_info();
  EXPECT_EQ(info.launcher, zs::Launcher::env);
  EXPECT_EQ(info.rank, 1);
  EXPECT_EQ(info.world_size, 2);
}

TEST(RankInfo, OpenMpiVariables) {
  ScopedLauncherEnv env({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                         {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                         {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}});
  auto info = zs::detect_rank_info();
  EXPECT_EQ(info.launcher, zs::Launcher::mpi);
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.world_size, 4);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.local_world_size, 2);
}

TEST(RankInfo, ZsrunsCpuRanksHaveBothAndAreMpiRanks) {
  // zsrun --num_procs gives CPU ranks torchrun's variables on top of mpirun's.
  ScopedLauncherEnv env({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                         {"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}});
  auto info = zs::detect_rank_info();
  EXPECT_EQ(info.launcher, zs::Launcher::mpi);
  EXPECT_EQ(info.rank, 1);
  EXPECT_EQ(info.world_size, 2);
}

TEST(RankInfo, MpichPmiVariables) {
  ScopedLauncherEnv env({{"PMI_RANK", "2"}, {"PMI_SIZE", "3"}, {"MPI_LOCALRANKID", "2"}, {"MPI_LOCALNRANKS", "3"}});
  auto info = zs::detect_rank_info();
  EXPECT_EQ(info.launcher, zs::Launcher::mpi);
  EXPECT_EQ(info.rank, 2);
  EXPECT_EQ(info.world_size, 3);
  EXPECT_EQ(info.local_rank, 2);
}

TEST(RankInfo, SlurmVariables) {
  ScopedLauncherEnv env({{"SLURM_PROCID", "6"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "2"},
                         {"SLURM_NTASKS_PER_NODE", "4(x2)"}, {"SLURM_JOB_NODELIST", "gpu[07-08,11],login1"}});
  auto info = zs::detect_rank_info();
  EXPECT_EQ(info.launcher, zs::Launcher::slurm);
  EXPECT_EQ(info.rank, 6);
  EXPECT_EQ(info.world_size, 8);
  EXPECT_EQ(info.local_rank, 2);
  EXPECT_EQ(info.local_world_size, 4);
  EXPECT_EQ(info.master_addr, "gpu07");
}

TEST(RankInfo, InconsistentVariablesAreClearErrors) {
  EXPECT_TRUE(contains(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}}), "RANK=2 is out of range for WORLD_SIZE=2"));
  EXPECT_TRUE(contains(error_of({{"RANK", "x1"}, {"WORLD_SIZE", "2"}}), "RANK='x1' is not a non-negative whole number"));
  EXPECT_TRUE(contains(error_of({{"RANK", "0"}}), "RANK and WORLD_SIZE must be set together"));
  EXPECT_TRUE(contains(error_of({{"RANK", "0"}, {"WORLD_SIZE", "0"}}), "at least one rank"));
  EXPECT_TRUE(contains(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "99999"}}), "MASTER_PORT"));
  EXPECT_TRUE(contains(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "3"}, {"LOCAL_WORLD_SIZE", "2"}}),
                       "local rank 3 is out of range"));
  EXPECT_TRUE(contains(error_of({{"OMPI_COMM_WORLD_RANK", "4"}, {"OMPI_COMM_WORLD_SIZE", "4"}}),
                       "OMPI_COMM_WORLD_RANK=4 is out of range"));
}

// ---- one-rank world --------------------------------------------------------------------------------

TEST(SelfCommunicator, OneRankWorldKeepsItsOwnData) {
  ScopedLauncherEnv env({});
  auto world = zs::init_distributed(zs::DevicePreference::cpu);
  ASSERT_EQ(world.comm->backend(), "self");
  EXPECT_EQ(world.size(), 1);
  EXPECT_TRUE(world.is_main());
  EXPECT_TRUE(world.device.is_cpu());
  auto& comm = *world.comm;

  auto t = at::arange(6, at::kFloat);
  for (auto op : {zs::ReduceOp::sum, zs::ReduceOp::avg, zs::ReduceOp::max, zs::ReduceOp::min}) {
    auto w = comm.all_reduce(t, op);
    EXPECT_TRUE(w->completed());
    w->wait();
    EXPECT_TRUE(at::equal(t, at::arange(6, at::kFloat)));
  }
  auto out = at::zeros({6}, at::kFloat);
  comm.reduce_scatter(out, t, zs::ReduceOp::sum)->wait();
  EXPECT_TRUE(at::equal(out, t));
  auto gathered = at::zeros({6}, at::kFloat);
  comm.all_gather(gathered, t)->wait();
  EXPECT_TRUE(at::equal(gathered, t));
  comm.broadcast(t, 0)->wait();
  comm.barrier();

  EXPECT_THROW(comm.broadcast(t, 1), std::invalid_argument);
  EXPECT_THROW(comm.all_gather(at::zeros({5}, at::kFloat), t), std::invalid_argument);
  EXPECT_THROW(comm.all_reduce(at::zeros({4, 4}).t(), zs::ReduceOp::sum), std::invalid_argument);
}

TEST(SelfCommunicator, CudaWithoutGpuIsAClearError) {
  ScopedLauncherEnv env({});
  try {
    zs::init_distributed(zs::DevicePreference::cuda);
#ifndef ZS_WITH_CUDA
    FAIL() << "expected an error";
#endif
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "no CUDA device")) << e.what();
  }
}

TEST(Collectives, DescribeAndTimeoutMessage) {
  auto t = at::zeros({1024}, at::kFloat);
  EXPECT_EQ(zs::describe_collective("all_reduce", t), "all_reduce of 1024 x float32");
  EXPECT_EQ(zs::timeout_message(3, "all_reduce of 1024 x float32", 30),
            "[zeroshard] rank 3: all_reduce of 1024 x float32 did not finish within 30 s; a peer rank may have died or hung");
}

// ---- real ranks through zsrun ----------------------------------------------------------------------

TEST(MpiCollectives, ProbeOnOneRankUsesSelf) {
  auto r = run("env -u RANK -u WORLD_SIZE " + probe_path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "backend self")) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 0 ok")) << r.output;
}

class MpiWorld : public ::testing::TestWithParam<int> {};

TEST_P(MpiWorld, EveryCollectiveOnEveryDtype) {
  const int n = GetParam();
  auto r = run(zsrun_path() + " --num_procs " + std::to_string(n) + " " + probe_path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < n; ++rank) {
    std::string rs = std::to_string(rank);
    EXPECT_TRUE(contains(r.output, "[rank " + rs + "] rank " + rs + " of " + std::to_string(n) + ": backend mpi"))
        << r.output;
    EXPECT_TRUE(contains(r.output, "[rank " + rs + "] rank " + rs + " ok: 36 checks")) << r.output;
  }
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, MpiWorld, ::testing::Values(2, 3));

TEST(MpiFailure, RankThatExitsEndsTheJob) {
  auto r = run(zsrun_path() + " --num_procs 2 " + probe_path() + " --fail-rank 1 --mode exit", 60);
  EXPECT_EQ(r.exit_code, 7) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(15)) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: rank 1 exited with code 7; stopped the other ranks")) << r.output;
}

TEST(MpiFailure, HungRankMakesPeersTimeOut) {
  auto r = run("env ZS_COMM_TIMEOUT=3 " + zsrun_path() + " --num_procs 2 " + probe_path() + " --fail-rank 1 --mode hang", 60);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(12)) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 0] [zeroshard] rank 0: all_reduce of 4 x float32 did not finish within 3 s; "
                                 "a peer rank may have died or hung"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: rank 0 exited with code 1")) << r.output;
}

TEST(MpiFailure, RanksStartedWithoutMpiAreToldHowToStart) {
  auto r = run("env RANK=0 WORLD_SIZE=2 " + probe_path(), 60);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "CPU ranks talk through MPI: start them with `zsrun --num_procs 2` or mpirun"))
      << r.output;
}

// `zsrun --num_gpus 2` (or torchrun) where no GPU is visible: the ranks, on the automatic device,
// say that they were started as GPU ranks and how to start CPU ranks instead.
TEST(MpiFailure, GpuRanksWithoutAGpuAreToldToUseCpuRanks) {
  auto r = run("env CUDA_VISIBLE_DEVICES= " + zsrun_path() + " --num_gpus 2 " + std::string(ZS_BIN_DIR) +
                   "/train_gpt --max_iters 1",
               60);
  EXPECT_NE(r.exit_code, 0) << r.output;
  // Whichever rank fails first is reported; zsrun then stops the other before it may print.
  EXPECT_TRUE(contains(r.output, "of 2 was started as a GPU rank")) << r.output;
  EXPECT_TRUE(contains(r.output, "start CPU ranks with `zsrun --num_procs 2`")) << r.output;
}

TEST(MpiFailure, SrunWithoutMpiPluginIsToldWhatToDo) {
  // What srun sets for task 1 of 2 when the cluster's default MPI plugin is "none".
  auto r = run("env -u RANK -u WORLD_SIZE SLURM_PROCID=1 SLURM_NTASKS=2 SLURM_LOCALID=1 SLURM_JOB_NODELIST=node1 " +
                   probe_path(),
               60);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "started by srun without an MPI plugin")) << r.output;
  EXPECT_TRUE(contains(r.output, "srun --mpi=pmix")) << r.output;
  EXPECT_FALSE(contains(r.output, "MPI_ABORT")) << r.output;
}

}  // namespace test_dist
