// The hang watchdog, with real ranks through zsrun (tests/progs/dist_probe.cpp): a stopped rank, a
// rank stuck outside collectives and a stopped rank 0 (which serves the store) each end the job
// within seconds of ZS_HANG_TIMEOUT, with a message naming the hung rank, and the summary names it.
#include <gtest/gtest.h>

#include <string>

#include "support/run_ranks.hpp"
#include "support/error_of.hpp"

namespace test_watchdog {

namespace {

using Run = zs::testing::RunResult;

using zs::testing::contains;

Run probe(int ranks, const std::string& args, const std::string& env = "ZS_HANG_TIMEOUT=3") {
  return zs::testing::run_command("env " + env + " " + zs::testing::bin("zsrun") + " --num_procs " + std::to_string(ranks) +
                                      " " + zs::testing::bin("tests/dist_probe") + " " + args,
                                  90);
}

}  // namespace

TEST(Watchdog, StoppedRankIsFound) {
  auto r = probe(3, "--fail-rank 1 --mode stop");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(20)) << r.output;
  // (The seconds it counts depend on when the beats fell: 3 or 4 with ZS_HANG_TIMEOUT=3.)
  EXPECT_TRUE(contains(r.output, "[rank 0] [zeroshard] watchdog on rank 0: rank 1 hangs: no heartbeat for ")) << r.output;
  EXPECT_TRUE(contains(r.output, " s (the process is stopped, frozen or gone)")) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 2] [zeroshard] rank 2: ending the job: rank 0 found: rank 1 hangs")) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: rank 1 hangs: no heartbeat")) << r.output;
  EXPECT_TRUE(contains(r.output, "(found by the watchdog on rank 0); stopped the other ranks")) << r.output;
}

TEST(Watchdog, RankStuckOutsideCollectivesIsFound) {
  auto r = probe(2, "--fail-rank 1 --mode hang");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(20)) << r.output;
  EXPECT_TRUE(contains(r.output, "watchdog on rank 0: rank 1 hangs outside collectives: rank 0 has waited ")) << r.output;
  EXPECT_TRUE(contains(r.output, " s in all_reduce of 4 x float32 (collective 1), which rank 1 has not started")) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: rank 1 hangs outside collectives")) << r.output;
}

TEST(Watchdog, StoppedRankZeroIsFoundThroughItsStore) {
  auto r = probe(2, "--fail-rank 0 --mode stop");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(20)) << r.output;
  EXPECT_TRUE(contains(r.output, "watchdog on rank 1: rank 0 hangs: the job's store at ")) << r.output;
  EXPECT_TRUE(contains(r.output, "which rank 0 serves, has not answered for ")) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: rank 0 hangs")) << r.output;
}

TEST(Watchdog, OffLeavesTheCollectiveTimeout) {
  auto r = probe(2, "--fail-rank 1 --mode hang", "ZS_HANG_TIMEOUT=0 ZS_COMM_TIMEOUT=3");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "watchdog")) << r.output;
  EXPECT_TRUE(contains(r.output, "did not finish within 3 s")) << r.output;
}

TEST(Watchdog, HealthyRunsFinishCleanly) {
  // Rank 0 serves the store until every rank is done: nobody mistakes a finished peer for a dead one.
  auto r = probe(3, "", "ZS_HANG_TIMEOUT=2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < 3; ++rank)
    EXPECT_TRUE(contains(r.output, "rank " + std::to_string(rank) + " ok: 36 checks")) << r.output;
  EXPECT_FALSE(contains(r.output, "hangs")) << r.output;
}

TEST(Watchdog, BadTimeoutIsAClearError) {
  auto r = probe(2, "", "ZS_HANG_TIMEOUT=soon");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "ZS_HANG_TIMEOUT='soon' is not a number of seconds")) << r.output;
}

}  // namespace test_watchdog
