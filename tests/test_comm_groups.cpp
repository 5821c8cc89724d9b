// Communicator groups (Communicator::split, node groups for ZeRO++) and all_to_all: the layout
// rules alone, the one-rank communicator, and real MPI ranks through zsrun
// (tests/progs/group_probe.cpp).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/zeros.h>

#include "support/error_of.hpp"
#include "support/run_ranks.hpp"
#include "zs/dist/node_groups.hpp"
#include "zs/dist/self_communicator.hpp"

namespace test_comm_groups {

namespace {

using zs::testing::contains;

std::string zsrun() { return std::string(ZS_BIN_DIR) + "/zsrun"; }
std::string probe() { return std::string(ZS_BIN_DIR) + "/tests/group_probe"; }

zs::RankInfo info(int rank, int world, int local_rank, int local_world) {
  zs::RankInfo i;
  i.rank = rank;
  i.world_size = world;
  i.local_rank = local_rank;
  i.local_world_size = local_world;
  return i;
}

std::string layout_error(const zs::RankInfo& i, int group_size) {
  return zs::testing::error_of<std::invalid_argument>([&] { zs::node_layout(i, group_size); });
}

}  // namespace

TEST(CommGroupsLayout, NodesFromTheLauncher) {
  // Rank 6 of 8 on 2 machines of 4: node 1, local rank 2.
  auto l = zs::node_layout(info(6, 8, 2, 4));
  EXPECT_EQ(l.group_size, 4);
  EXPECT_EQ(l.num_groups, 2);
  EXPECT_EQ(l.node, 1);
  EXPECT_EQ(l.local_rank, 2);
}

TEST(CommGroupsLayout, GroupSizeEmulatesNodes) {
  // One machine of 8 ranks cut into 4 "nodes" of 2 (hpZ's zero_hpz_partition_size = 2).
  auto l = zs::node_layout(info(5, 8, 5, 8), 2);
  EXPECT_EQ(l.group_size, 2);
  EXPECT_EQ(l.num_groups, 4);
  EXPECT_EQ(l.node, 2);
  EXPECT_EQ(l.local_rank, 1);
  auto whole = zs::node_layout(info(5, 8, 5, 8), 8);
  EXPECT_EQ(whole.num_groups, 1);
  EXPECT_EQ(whole.local_rank, 5);
}

TEST(CommGroupsLayout, BadLayoutsAreClearErrors) {
  EXPECT_TRUE(contains(layout_error(info(0, 6, 0, 6), 4), "node group size 4 does not divide the 6 ranks"));
  EXPECT_TRUE(contains(layout_error(info(0, 6, 0, 6), -1), "is negative"));
  // Ranks numbered round-robin over machines (mpirun --map-by node): rank 1 is local rank 0.
  EXPECT_TRUE(contains(layout_error(info(1, 4, 0, 2), 0), "numbered node by node"));
  // Machines with different rank counts.
  EXPECT_TRUE(contains(layout_error(info(2, 5, 2, 3), 0), "LOCAL_WORLD_SIZE=3"));
}

TEST(CommGroupsSelf, SplitAndAllToAllOnOneRank) {
  zs::SelfCommunicator self;
  EXPECT_EQ(self.split(-1, 0), nullptr);
  auto group = self.split(3, 7);
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->rank(), 0);
  EXPECT_EQ(group->size(), 1);
  auto in = at::arange(6, at::kFloat);
  auto out = at::zeros({6}, at::kFloat);
  EXPECT_TRUE(group->all_to_all(out, in)->completed());
  EXPECT_TRUE(at::equal(out, in));
  EXPECT_THROW(group->all_to_all(at::zeros({5}), in), std::invalid_argument);
  EXPECT_THROW(group->all_to_all(at::zeros({6}, at::kLong), in), std::invalid_argument);
}

class CommGroupsMpi : public ::testing::TestWithParam<int> {};

TEST_P(CommGroupsMpi, SplitNodeGroupsAndAllToAll) {
  const int n = GetParam();
  auto r = zs::testing::run_command(zsrun() + " --num_procs " + std::to_string(n) + " " + probe(), 120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < n; ++rank) {
    const std::string rs = std::to_string(rank);
    EXPECT_TRUE(contains(r.output, "[rank " + rs + "] rank " + rs + " ok: ")) << r.output;
  }
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, CommGroupsMpi, ::testing::Values(2, 3, 4));

TEST(CommGroupsFailure, HungRankInAGroupMakesPeersTimeOut) {
  auto r = zs::testing::run_command("env ZS_COMM_TIMEOUT=3 " + zsrun() + " --num_procs 2 " + probe() + " --hang-in-group", 60);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(15)) << r.output;
  EXPECT_TRUE(contains(r.output, "[zeroshard] rank 0: all_to_all of 4 x float32 in a group of 2 ranks did not finish "
                                 "within 3 s"))
      << r.output;
}

}  // namespace test_comm_groups
