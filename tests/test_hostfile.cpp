// DeepSpeed's hostfile, its --include/--exclude filters and limits, and the environment a
// multi-node launch carries (no processes started here; tests/test_multinode.cpp starts them).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "support/error_of.hpp"
#include "support/run_ranks.hpp"
#include "zs/launcher/carried_env.hpp"
#include "zs/launcher/hostfile.hpp"
#include "zs/launcher/launch_options.hpp"

namespace test_hostfile {

namespace {

using zs::launcher::Resources;
using zs::launcher::UsageError;

// The message of the UsageError that `f` throws ("" if it throws none).
template <class F>
std::string error_of(F&& f) {
  return zs::testing::error_of<UsageError>(std::forward<F>(f));
}

using zs::testing::contains;

std::string layout(const Resources& r) { return zs::launcher::encode_resources(r); }

const char* kHostfile = R"(# the cluster
worker-0 slots=4
worker-1    slots=2   # a comment after the slots

worker-2 slots=8
)";

Resources hosts() { return zs::launcher::parse_hostfile(kHostfile, "hosts"); }

}  // namespace

TEST(Hostfile, ReadsDeepSpeedsFormat) {
  EXPECT_EQ(layout(hosts()), "worker-0:0,1,2,3@worker-1:0,1@worker-2:0,1,2,3,4,5,6,7");
  EXPECT_EQ(zs::launcher::total_slots(hosts()), 14);
  EXPECT_EQ(zs::launcher::first_rank_of(hosts(), 2), 6);
}

TEST(Hostfile, BadLinesAreNamedWithTheirLineNumber) {
  using zs::launcher::parse_hostfile;
  EXPECT_TRUE(contains(error_of([] { parse_hostfile("a slots=2\nb\n", "h"); }),
                       "hostfile h, line 2: 'b' has no slots=N (write it as 'b slots=8')"));
  EXPECT_TRUE(contains(error_of([] { parse_hostfile("a slots=two\n", "h"); }), "line 1: 'a slots=two': want 'HOST slots=N'"));
  EXPECT_TRUE(contains(error_of([] { parse_hostfile("a slots=0\n", "h"); }), "from 1"));
  EXPECT_TRUE(contains(error_of([] { parse_hostfile("a slots=2 max_slots=4\n", "h"); }), "unexpected 'max_slots=4'"));
  EXPECT_TRUE(contains(error_of([] { parse_hostfile("a slots=2\na slots=4\n", "h"); }), "line 2: host 'a' is listed twice"));
  EXPECT_TRUE(contains(error_of([] { parse_hostfile("# nothing\n\n", "h"); }), "lists no host"));
  EXPECT_TRUE(contains(error_of([] { zs::launcher::read_hostfile("/no/such/hostfile"); }), "cannot read the hostfile"));
  EXPECT_TRUE(contains(error_of([] { zs::launcher::read_hostfile("/tmp"); }), "cannot read the hostfile /tmp"));
}

TEST(Hostfile, IncludeKeepsHostfileOrder) {
  using zs::launcher::filter_resources;
  EXPECT_EQ(layout(filter_resources(hosts(), "worker-2:1,3@worker-0", "")), "worker-0:0,1,2,3@worker-2:1,3");
  EXPECT_EQ(layout(filter_resources(hosts(), "worker-1:1", "")), "worker-1:1");
  EXPECT_EQ(layout(filter_resources(hosts(), "worker-1:1@worker-1:0", "")), "worker-1:0,1");
}

TEST(Hostfile, ExcludeRemovesSlotsAndHosts) {
  using zs::launcher::filter_resources;
  EXPECT_EQ(layout(filter_resources(hosts(), "", "worker-0@worker-2:0,7")), "worker-1:0,1@worker-2:1,2,3,4,5,6");
  EXPECT_EQ(layout(filter_resources(hosts(), "", "worker-1:0@worker-1:1")), "worker-0:0,1,2,3@worker-2:0,1,2,3,4,5,6,7");
}

TEST(Hostfile, FilterErrors) {
  using zs::launcher::filter_resources;
  EXPECT_TRUE(contains(error_of([] { filter_resources(hosts(), "worker-9", ""); }),
                       "--include names host 'worker-9', which is not in the hostfile (hosts: worker-0, worker-1, worker-2)"));
  EXPECT_TRUE(contains(error_of([] { filter_resources(hosts(), "", "worker-1:2"); }),
                       "--exclude names slot 2 of host 'worker-1', which has 2 (slots 0..1)"));
  EXPECT_TRUE(contains(error_of([] { filter_resources(hosts(), "worker-1:x", ""); }), "'x' is not a slot number"));
  EXPECT_TRUE(contains(error_of([] { filter_resources(hosts(), "a", "b"); }), "exclude each other"));
  EXPECT_TRUE(contains(error_of([] { filter_resources(hosts(), "", "worker-0@worker-1@worker-2"); }), "leaves no slot"));
  EXPECT_TRUE(contains(error_of([] { filter_resources(hosts(), ":1", ""); }), "without a host name"));
}

TEST(Hostfile, LimitsTakeTheFirstNodesAndSlots) {
  using zs::launcher::limit_resources;
  EXPECT_EQ(layout(limit_resources(hosts(), 2, -1, "--num_gpus")), "worker-0:0,1,2,3@worker-1:0,1");
  EXPECT_EQ(layout(limit_resources(hosts(), -1, 2, "--num_gpus")), "worker-0:0,1@worker-1:0,1@worker-2:0,1");
  EXPECT_TRUE(contains(error_of([] { limit_resources(hosts(), 4, -1, "--num_gpus"); }),
                       "--num_nodes 4 but the hostfile has 3 host(s)"));
  EXPECT_TRUE(contains(error_of([] { limit_resources(hosts(), -1, 3, "--num_procs"); }),
                       "--num_procs 3 but host 'worker-1' has slots=2"));
}

TEST(Hostfile, LayoutRoundTrips) {
  const Resources r = zs::launcher::filter_resources(hosts(), "", "worker-2:0");
  EXPECT_EQ(layout(zs::launcher::decode_resources(layout(r))), layout(r));
}

TEST(CarriedEnv, DeepSpeedEnvFiles) {
  auto pairs = zs::launcher::parse_env_file("# comment\nNCCL_IB_HCA=mlx5\n\nexport PYTHONPATH=/a:/b\nX=a=b\n", "f");
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0], std::make_pair(std::string("NCCL_IB_HCA"), std::string("mlx5")));
  EXPECT_EQ(pairs[1], std::make_pair(std::string("PYTHONPATH"), std::string("/a:/b")));
  EXPECT_EQ(pairs[2].second, "a=b");
  EXPECT_TRUE(contains(error_of([] { zs::launcher::parse_env_file("A=1\njust words\n", "/x/.deepspeed_env"); }),
                       "/x/.deepspeed_env, line 2: 'just words' is not NAME=VALUE"));
}

TEST(CarriedEnv, WhatEveryNodeGets) {
  const std::string home = zs::testing::temp_dir("home"), cwd = zs::testing::temp_dir("cwd");
  zs::testing::write_text(home + "/.deepspeed_env", "FROM_HOME=1\nBOTH=home\n");
  zs::testing::write_text(cwd + "/.deepspeed_env", "BOTH=cwd\nNCCL_DEBUG=WARN\n");
  const std::vector<std::string> env = {"NCCL_DEBUG=INFO", "ZS_HANG_TIMEOUT=30", "PATH=/bin", "HOME=" + home,
                                        "UCX_TLS=tcp", "NCCL_NVLS_ENABLE=1", "LD_PRELOAD=/x/keep.so",
                                        "ASAN_OPTIONS=detect_leaks=1", "LSAN_OPTIONS=suppressions=/x/l.supp",
                                        "UBSAN_OPTIONS=halt_on_error=1", "LD_LIBRARY_PATH=/x/lib"};
  auto carried = zs::launcher::carried_environment(env, home, cwd);
  auto value = [&](const std::string& name) -> std::string {
    for (const auto& [k, v] : carried)
      if (k == name) return v;
    return "(absent)";
  };
  EXPECT_EQ(value("ZS_HANG_TIMEOUT"), "30");
  EXPECT_EQ(value("UCX_TLS"), "tcp");
  EXPECT_EQ(value("NCCL_NVLS_ENABLE"), "1");  // set here: kept
  EXPECT_EQ(value("TORCH_SYMM_MEM_DISABLE_MULTICAST"), "1");
  EXPECT_EQ(value("NVSHMEM_DISABLE_NVLS"), "1");
  EXPECT_EQ(value("FROM_HOME"), "1");
  EXPECT_EQ(value("BOTH"), "cwd");          // the working folder's file wins
  EXPECT_EQ(value("NCCL_DEBUG"), "WARN");   // the files win over this shell
  EXPECT_EQ(value("PATH"), "(absent)");
  EXPECT_EQ(value("LD_LIBRARY_PATH"), "(absent)");
  EXPECT_EQ(value("LD_PRELOAD"), "/x/keep.so");   // a sanitized or instrumented run stays one on every node
  EXPECT_EQ(value("ASAN_OPTIONS"), "detect_leaks=1");
  EXPECT_EQ(value("LSAN_OPTIONS"), "suppressions=/x/l.supp");
  EXPECT_EQ(value("UBSAN_OPTIONS"), "halt_on_error=1");
  // DS_ENV_FILE names another file.
  zs::testing::write_text(cwd + "/my.env", "OTHER=2\n");
  auto other = zs::launcher::carried_environment({"DS_ENV_FILE=my.env"}, home, cwd);
  bool found = false;
  for (const auto& [k, v] : other) found |= k == "OTHER" && v == "2";
  EXPECT_TRUE(found);
  EXPECT_EQ(std::system(("rm -rf " + home + " " + cwd).c_str()), 0);
}

TEST(CarriedEnv, ShellQuoting) {
  EXPECT_EQ(zs::launcher::shell_quote("plain/path-1.2"), "plain/path-1.2");
  EXPECT_EQ(zs::launcher::shell_quote("two words"), "'two words'");
  EXPECT_EQ(zs::launcher::shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(zs::launcher::shell_quote(""), "''");
}

}  // namespace test_hostfile
