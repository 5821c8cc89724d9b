// zsrun across nodes, on a cluster made on this machine (scripts/fake_cluster.sh): two hosts, each a
// network namespace with its own address and host name and a real sshd. GPU-style ranks go over ssh
// (a node-local zsrun per node), CPU ranks through one mpirun over the hosts. Skipped, saying why,
// where the machine cannot make such hosts (not root, no network namespaces, no sshd).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/equivalence.hpp"
#include "support/run_ranks.hpp"
#include "support/error_of.hpp"

namespace {

using zs::testing::bin;
using zs::testing::RunResult;

using zs::testing::contains;

class Cluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = zs::testing::temp_dir("cluster");
    const std::string script = std::string(ZS_SOURCE_DIR) + "/scripts/fake_cluster.sh";
    RunResult check = zs::testing::run_command(script + " check", 30);
    if (check.exit_code != 0) {
      why_ = "no cluster on this machine: " + check.output;
      return;
    }
    RunResult up = zs::testing::run_command(script + " up " + dir_ + " 2", 60);
    if (up.exit_code != 0) {
      why_ = "fake_cluster.sh up failed: " + up.output;
      return;
    }
    std::ifstream hosts(dir_ + "/hosts");
    for (std::string name, ip; hosts >> name >> ip;) ips_.push_back(ip);
    ok_ = ips_.size() == 2;
    if (!ok_) why_ = "fake_cluster.sh made " + std::to_string(ips_.size()) + " hosts";
  }
  static void TearDownTestSuite() {
    zs::testing::run_command(std::string(ZS_SOURCE_DIR) + "/scripts/fake_cluster.sh down " + dir_, 60);
    zs::testing::run_command("rm -rf " + dir_, 30);
  }
  void SetUp() override {
    if (!ok_) GTEST_SKIP() << why_;
  }

  // zsrun over the cluster's hostfile, from `cwd` (a temporary folder unless given).
  static RunResult zsrun(const std::string& args, const std::string& env = "", int limit_s = 120,
                         const std::string& cwd = "") {
    const std::string where = cwd.empty() ? dir_ : cwd;
    return zs::testing::run_command("sh -c 'cd " + where + " && exec env ZS_SSH_ARGS=\"-F " + dir_ + "/ssh_config\" " +
                                        env + " " + bin("zsrun") + " --hostfile " + dir_ + "/hostfile " + args + "'",
                                    limit_s);
  }
  static std::string ip(int node) { return ips_[static_cast<size_t>(node)]; }

  // The pids the ranks wrote (pid.R files in `d`) that still run (a zombie is gone).
  static std::string survivors(const std::string& d) {
    return zs::testing::run_command("for f in " + d + "/pid.*; do p=$(cat $f); [ -e /proc/$p ] && [ \"$(cut -d' ' -f3 "
                                    "/proc/$p/stat)\" != Z ] && echo alive $f; done; true",
                                    30)
        .output;
  }

  static inline std::string dir_, why_;
  static inline bool ok_ = false;
  static inline std::vector<std::string> ips_;
};

TEST_F(Cluster, GpuRanksOverSshGetTheirPlaceAndEnvironment) {
  const std::string cwd = zs::testing::temp_dir("cwd");
  zs::testing::write_text(cwd + "/.deepspeed_env", "FROM_FILE=yes\n");
  RunResult r = zsrun("--num_gpus 2 --master_port 29611 /bin/sh -c \"echo \\$(hostname) \\$RANK/\\$WORLD_SIZE "
                      "\\$LOCAL_RANK/\\$LOCAL_WORLD_SIZE g\\$GROUP_RANK \\$MASTER_ADDR:\\$MASTER_PORT \\$NCCL_SOME_SETTING "
                      "\\$ZS_SOME_SETTING \\$FROM_FILE nvls=\\$NCCL_NVLS_ENABLE\"",
                      "NCCL_SOME_SETTING=n1 ZS_SOME_SETTING=z1", 60, cwd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string carried = " n1 z1 yes nvls=0";
  EXPECT_TRUE(contains(r.output, "[" + ip(0) + " rank 0] node1 0/4 0/2 g0 " + ip(0) + ":29611" + carried)) << r.output;
  EXPECT_TRUE(contains(r.output, "[" + ip(0) + " rank 1] node1 1/4 1/2 g0 ")) << r.output;
  EXPECT_TRUE(contains(r.output, "[" + ip(1) + " rank 2] node2 2/4 0/2 g1 " + ip(0) + ":29611" + carried)) << r.output;
  EXPECT_TRUE(contains(r.output, "[" + ip(1) + " rank 3] node2 3/4 1/2 g1 ")) << r.output;
  zs::testing::run_command("rm -rf " + cwd, 10);
}

TEST_F(Cluster, IncludeAndExcludePickSlots) {
  const std::string show = "/bin/sh -c \"echo \\$(hostname) \\$RANK/\\$WORLD_SIZE cvd=\\${CUDA_VISIBLE_DEVICES-all}\"";
  RunResult inc = zsrun("--include " + ip(0) + ":1@" + ip(1) + " " + show);
  ASSERT_EQ(inc.exit_code, 0) << inc.output;
  EXPECT_TRUE(contains(inc.output, "[" + ip(0) + " rank 0] node1 0/3 cvd=1")) << inc.output;
  EXPECT_TRUE(contains(inc.output, "[" + ip(1) + " rank 2] node2 2/3 cvd=all")) << inc.output;
  RunResult exc = zsrun("--exclude " + ip(1) + ":0 " + show);
  ASSERT_EQ(exc.exit_code, 0) << exc.output;
  EXPECT_TRUE(contains(exc.output, "[" + ip(0) + " rank 1] node1 1/3 cvd=all")) << exc.output;
  EXPECT_TRUE(contains(exc.output, "[" + ip(1) + " rank 2] node2 2/3 cvd=1")) << exc.output;
  RunResult one = zsrun("--num_nodes 1 " + show);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_TRUE(contains(one.output, "node1 1/2")) << one.output;
  EXPECT_FALSE(contains(one.output, "node2")) << one.output;
  RunResult bad = zsrun("--include nowhere:0 /bin/true");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(contains(bad.output, "--include names host 'nowhere', which is not in the hostfile")) << bad.output;
}

TEST_F(Cluster, DeadRankOnOneNodeStopsEveryNode) {
  const std::string d = zs::testing::temp_dir("pids");
  RunResult r = zsrun("/bin/sh -c \"echo \\$\\$ > " + d + "/pid.\\$RANK; if [ \\$RANK = 3 ]; then sleep 1; kill -9 \\$\\$; fi; "
                      "exec sleep 60\"");
  EXPECT_EQ(r.exit_code, 137) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(10)) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: rank 3 on " + ip(1) + " was killed by signal 9 (SIGKILL)")) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: rank 3 on " + ip(1) + " exited with code 137; stopped every node")) << r.output;
  EXPECT_EQ(survivors(d), "");
  zs::testing::run_command("rm -rf " + d, 10);
}

TEST_F(Cluster, CtrlCStopsEveryNode) {
  const std::string d = zs::testing::temp_dir("pids");
  zs::testing::write_text(d + "/run.sh",
                          "ZS_SSH_ARGS='-F " + dir_ + "/ssh_config' " + bin("zsrun") + " --hostfile " + dir_ +
                              "/hostfile /bin/sh -c 'echo $$ > " + d + "/pid.$RANK; exec sleep 60' &\n"
                              "pid=$!; n=0\n"
                              "while [ $(ls " + d + " | grep -c pid) -lt 4 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done\n"
                              "kill -INT $pid; wait $pid; echo rc=$?\n");
  RunResult r = zs::testing::run_command("sh " + d + "/run.sh", 60);
  EXPECT_TRUE(contains(r.output, "rc=130")) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: interrupted (SIGINT): stopped every node")) << r.output;
  EXPECT_EQ(survivors(d), "");
  zs::testing::run_command("rm -rf " + d, 10);
}

TEST_F(Cluster, NoSshStartsOneNodeEach) {
  // What a cluster manager does: the same command on every node, each with its node rank.
  zs::testing::write_text(dir_ + "/node.sh", "cd " + dir_ + " && exec " + bin("zsrun") + " --hostfile " + dir_ +
                                                 "/hostfile --no_ssh --node_rank $1 /bin/sh -c 'echo $(hostname) "
                                                 "$RANK/$WORLD_SIZE'\n");
  const std::string ssh = "ssh -F " + dir_ + "/ssh_config ";
  RunResult r = zs::testing::run_command("sh -c '" + ssh + ip(0) + " sh " + dir_ + "/node.sh 0 & " + ssh + ip(1) + " sh " +
                                             dir_ + "/node.sh 1; wait'",
                                         60);
  EXPECT_TRUE(contains(r.output, "[" + ip(0) + " rank 1] node1 1/4")) << r.output;
  EXPECT_TRUE(contains(r.output, "[" + ip(1) + " rank 3] node2 3/4")) << r.output;
}

TEST_F(Cluster, CpuRanksAcrossNodesMatchTheSingleProcessReference) {
  zs::testing::RunSetup s;
  s.stage = 2;
  s.world = 4;
  const std::string d = zs::testing::temp_dir("eq");
  zs::testing::write_text(d + "/config.json", zs::testing::config_json(s));
  // train_tiny prints nothing on ranks other than 0: each rank says where it runs first.
  RunResult r = zsrun("--num_procs 2 /bin/sh -c \"echo on \\$(hostname); exec " + bin("tests/train_tiny") +
                      " --device cpu --config " + d + "/config.json --out " + d + "/result.json --steps " +
                      std::to_string(zs::testing::kSteps) + "\"");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[" + ip(1) + " rank 3] on node2")) << r.output;
  const nlohmann::json got = zs::testing::read_json(d + "/result.json");
  const nlohmann::json& ref = zs::testing::reference("fp32");
  ASSERT_FALSE(ref.is_null());
  const auto [loss_diff, weight_diff] = zs::testing::difference(got, ref);
  std::printf("[multinode] 2 nodes x 2 CPU ranks, stage 2: max loss rel diff %.2e, weight diff %.2e\n", loss_diff, weight_diff);
  EXPECT_LT(loss_diff, 5e-6);
  EXPECT_LT(weight_diff, 5e-6);
  zs::testing::run_command("rm -rf " + d, 10);
}

TEST_F(Cluster, CpuRanksGetTheirPlaceAndEnvironment) {
  const std::string cwd = zs::testing::temp_dir("cwd");
  zs::testing::write_text(cwd + "/.deepspeed_env", "FROM_FILE=yes\n");
  RunResult r = zsrun("--num_procs 2 /bin/sh -c \"echo \\$(hostname) \\$RANK/\\$WORLD_SIZE \\$LOCAL_RANK/\\$LOCAL_WORLD_SIZE "
                      "\\$MASTER_ADDR \\$ZS_SOME_SETTING \\$TSAN_OPTIONS \\$FROM_FILE omp=\\$OMP_NUM_THREADS\"",
                      "ZS_SOME_SETTING=z1 TSAN_OPTIONS=t1", 60, cwd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[" + ip(0) + " rank 0] node1 0/4 0/2 " + ip(0) + " z1 t1 yes omp=")) << r.output;
  EXPECT_TRUE(contains(r.output, "[" + ip(1) + " rank 3] node2 3/4 1/2 " + ip(0) + " z1 t1 yes omp=")) << r.output;
  zs::testing::run_command("rm -rf " + cwd, 10);
}

TEST_F(Cluster, CpuRankFailuresAcrossNodes) {
  RunResult killed = zsrun("--num_procs 2 " + bin("tests/dist_probe") + " --fail-rank 3 --mode kill");
  EXPECT_EQ(killed.exit_code, 137) << killed.output;
  EXPECT_LT(killed.seconds, zs::testing::time_limit(10)) << killed.output;
  EXPECT_TRUE(contains(killed.output, "zsrun: rank 3 on " + ip(1) + " exited with code 137; stopped every node"))
      << killed.output;
  RunResult stopped = zsrun("--num_procs 2 " + bin("tests/dist_probe") + " --fail-rank 2 --mode stop", "ZS_HANG_TIMEOUT=3");
  EXPECT_EQ(stopped.exit_code, 1) << stopped.output;
  EXPECT_LT(stopped.seconds, zs::testing::time_limit(20)) << stopped.output;
  EXPECT_TRUE(contains(stopped.output, "zsrun: rank 2 on " + ip(1) + " hangs: no heartbeat for ")) << stopped.output;
}

}  // namespace
