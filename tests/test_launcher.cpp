// zsrun, tested as users run it: a subprocess with real child processes (GPU-mode ranks are
// plain processes here; CPU ranks go through mpirun).
#include <gtest/gtest.h>

#include "support/run_ranks.hpp"
#include "zs/launcher/mpirun_output.hpp"
#include "zs/launcher/rank_shim.hpp"
#include "zs/launcher/terminal_progress.hpp"
#include "support/error_of.hpp"
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace test_launcher {

namespace {

using Run = zs::testing::RunResult;  // output: stdout and stderr together

std::string zsrun_path() { return std::string(ZS_BIN_DIR) + "/zsrun"; }

Run run(const std::string& command, int limit_s = 60) { return zs::testing::run_command(command, limit_s); }

Run zsrun(const std::string& args, int limit_s = 60) { return run(zsrun_path() + " " + args, limit_s); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

using zs::testing::contains;

}  // namespace

// ---- GPU-style ranks (started by zsrun itself) ---------------------------------------------------

TEST(Zsrun, GivesEachRankItsEnvironment) {
  auto r = zsrun("--num_gpus 3 --master_port 29733 /bin/sh -c "
                 "'echo \"id=$RANK local=$LOCAL_RANK of $WORLD_SIZE/$LOCAL_WORLD_SIZE at $MASTER_ADDR:$MASTER_PORT "
                 "nvls=$NCCL_NVLS_ENABLE mc=$TORCH_SYMM_MEM_DISABLE_MULTICAST shm=$NVSHMEM_DISABLE_NVLS "
                 "cvd=${CUDA_VISIBLE_DEVICES-unset}\"'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int i = 0; i < 3; ++i) {
    std::string want = "[rank " + std::to_string(i) + "] id=" + std::to_string(i) + " local=" + std::to_string(i) +
                       " of 3/3 at 127.0.0.1:29733 nvls=0 mc=1 shm=1 cvd=unset";
    EXPECT_TRUE(contains(r.output, want)) << "missing: " << want << "\n" << r.output;
  }
}

TEST(Zsrun, KeepsMulticastSwitchesAlreadySet) {
  auto r = run("env NCCL_NVLS_ENABLE=1 " + zsrun_path() + " --num_gpus 1 /bin/sh -c 'echo nvls=$NCCL_NVLS_ENABLE'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 0] nvls=1")) << r.output;
}

TEST(Zsrun, IncludeSelectsDevices) {
  auto r = zsrun("--include localhost:1,3 /bin/sh -c 'echo \"$RANK/$WORLD_SIZE cvd=$CUDA_VISIBLE_DEVICES\"'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 0] 0/2 cvd=1,3")) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 1] 1/2 cvd=1,3")) << r.output;
}

TEST(Zsrun, ExcludeRemovesDevices) {
  auto r = zsrun("--num_gpus 4 --exclude localhost:1 /bin/sh -c 'echo \"$RANK/$WORLD_SIZE cvd=$CUDA_VISIBLE_DEVICES\"'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 2] 2/3 cvd=0,2,3")) << r.output;
}

TEST(Zsrun, PassesProgramArgumentsUnchanged) {
  auto r = zsrun("--num_gpus 1 -- /bin/echo --num_gpus 5 'two words' --");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 0] --num_gpus 5 two words --")) << r.output;
  // Without "--", the first non-option is the program and the rest is its own.
  auto r2 = zsrun("--num_gpus=1 /bin/sh -c 'echo \"args: $*\"' prog --help --num_procs 3");
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  EXPECT_TRUE(contains(r2.output, "[rank 0] args: --help --num_procs 3")) << r2.output;
}

TEST(Zsrun, PrefixesEveryLineWithoutMixingRanks) {
  // 4 ranks each write 2000 long lines to stdout and stderr as fast as they can.
  auto r = zsrun("--num_gpus 4 /bin/sh -c "
                 "'i=0; while [ $i -lt 2000 ]; do echo \"r$RANK-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-end\"; "
                 "echo \"e$RANK-$i-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy-end\" >&2; i=$((i+1)); done; printf \"tail$RANK\"'",
                 120);
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 2000);
  int counted = 0;
  for (const auto& line : lines_of(r.output)) {
    ASSERT_EQ(line.rfind("[rank ", 0), 0u) << "unprefixed line: " << line;
    char rank = line[6];
    std::string body = line.substr(9);
    if (body.rfind("tail", 0) == 0) {
      EXPECT_EQ(body, std::string("tail") + rank);  // a last line without '\n' still arrives whole
      continue;
    }
    ASSERT_EQ(body[1], rank) << line;
    ASSERT_EQ(body.substr(body.size() - 4), "-end") << "torn line: " << line;
    ++counted;
  }
  EXPECT_EQ(counted, 4 * 2000 * 2);
}

TEST(Zsrun, FailingRankStopsTheOthersAndSetsExitCode) {
  auto r = zsrun("--num_gpus 3 /bin/sh -c 'if [ $RANK = 1 ]; then sleep 0.5; exit 5; fi; exec sleep 60'");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(10)) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: rank 1 exited with code 5; stopped the other ranks")) << r.output;
}

TEST(Zsrun, RankIgnoringSigtermIsKilledAfterGrace) {
  auto r = zsrun("--num_gpus 2 --grace_s 1 /bin/sh -c "
                 "'if [ $RANK = 0 ]; then sleep 0.3; exit 4; fi; trap \"\" TERM; while true; do sleep 0.1; done'");
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(10)) << r.output;
}

TEST(Zsrun, RankKilledBySignalGives128PlusSignal) {
  auto r = zsrun("--num_gpus 2 /bin/sh -c 'if [ $RANK = 1 ]; then kill -SEGV $$; fi; exec sleep 60'");
  EXPECT_EQ(r.exit_code, 128 + 11) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 1 was killed by signal 11 (SIGSEGV)")) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 1 exited with code 139")) << r.output;
}

TEST(Zsrun, ForwardsSigtermToRanks) {
  // zsrun in the background gets SIGTERM; its ranks must go and zsrun must return promptly.
  std::string cmd = "sh -c '" + zsrun_path() +
                    " --num_gpus 2 /bin/sh -c \"echo started; exec sleep 60\" & pid=$!; sleep 1; kill -TERM $pid; "
                    "wait $pid; echo rc=$?'";
  auto r = run(cmd, 30);
  EXPECT_TRUE(contains(r.output, "rc=143")) << r.output;  // the ranks died of SIGTERM
  EXPECT_LT(r.seconds, zs::testing::time_limit(10)) << r.output;
}

// ---- CPU ranks (through mpirun) ------------------------------------------------------------------

TEST(Zsrun, CpuRanksThroughMpirun) {
  auto r = run("env -u OMP_NUM_THREADS " + zsrun_path() +
               " --num_procs 2 /bin/sh -c 'echo \"out $OMPI_COMM_WORLD_RANK rank=$RANK/$WORLD_SIZE "
               "local=$LOCAL_RANK/$LOCAL_WORLD_SIZE omp=$OMP_NUM_THREADS port=$MASTER_PORT\"; "
               "echo \"err $OMPI_COMM_WORLD_RANK\" >&2'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  std::string omp = std::to_string(std::max(1L, cores / 2));
  EXPECT_TRUE(contains(r.output, "[rank 0] out 0 rank=0/2 local=0/2 omp=" + omp + " port=29500")) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 1] out 1 rank=1/2 local=1/2 omp=" + omp)) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 1] err 1")) << r.output;
  EXPECT_FALSE(contains(r.output, "<stdout>")) << r.output;
}

// mpirun tags pieces of output, not lines: a rank's line that reaches it in two pieces (a stdio
// buffer flushed mid-line, a line written in two calls) used to carry another rank's tag inside.
TEST(Zsrun, CpuRankLinesStayWholeWhenWrittenInPieces) {
  auto r = zsrun("--num_procs 2 /bin/sh -c 'R=$OMPI_COMM_WORLD_RANK; seq -f \"r$R-%g-end\" 1 20000; "
                 "printf \"first-$R \"; sleep 0.3; printf \"second-$R\\n\"; printf \"tail-$R\"'",
                 120);
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 2000);
  int counted[2] = {0, 0};
  for (const auto& line : lines_of(r.output)) {
    ASSERT_EQ(line.rfind("[rank ", 0), 0u) << "unprefixed line: " << line;
    ASSERT_FALSE(contains(line, "<stdout>")) << line;
    const char rank = line[6];
    const std::string body = line.substr(9);
    if (body.rfind("first-", 0) == 0) {
      EXPECT_EQ(body, std::string("first-") + rank + " second-" + rank);
    } else if (body.rfind("tail-", 0) == 0) {
      EXPECT_EQ(body, std::string("tail-") + rank);  // a last line without '\n' arrives whole too
    } else {
      ASSERT_EQ(body[1], rank) << line;
      ASSERT_EQ(body.substr(body.size() - 4), "-end") << "torn line: " << line;
      ++counted[rank - '0'];
    }
  }
  EXPECT_EQ(counted[0], 20000);
  EXPECT_EQ(counted[1], 20000);
}

TEST(Zsrun, CpuRankFailureNamesRankAndCode) {
  auto r = zsrun("--num_procs 3 /bin/sh -c 'if [ $OMPI_COMM_WORLD_RANK = 2 ]; then exit 3; fi; exec sleep 60'");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(15)) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: rank 2 exited with code 3; stopped the other ranks")) << r.output;
}

TEST(Zsrun, CpuRankSignalNamesRank) {
  auto r = zsrun("--num_procs 2 /bin/sh -c 'if [ $OMPI_COMM_WORLD_RANK = 1 ]; then kill -SEGV $$; fi; exec sleep 60'");
  EXPECT_EQ(r.exit_code, 139) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: rank 1 exited with code 139")) << r.output;
}

TEST(Zsrun, CpuRanksStopOnSigterm) {
  std::string cmd = "sh -c '" + zsrun_path() +
                    " --num_procs 2 /bin/sh -c \"echo started; exec sleep 60\" & pid=$!; sleep 1.5; kill -TERM $pid; "
                    "wait $pid; echo rc=$?'";
  auto r = run(cmd, 30);
  EXPECT_TRUE(contains(r.output, "rc=143")) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: interrupted (SIGTERM): stopped all 2 ranks")) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(10)) << r.output;
}

// Ctrl-C: the terminal sends SIGINT to zsrun; it reads as an interruption (exit 130, no rank
// blamed) and leaves no rank behind.
class ZsrunInterrupt : public ::testing::TestWithParam<std::string> {};

TEST_P(ZsrunInterrupt, CtrlCStopsEveryRank) {
  const std::string d = zs::testing::temp_dir("interrupt");
  zs::testing::write_text(d + "/run.sh", "D=" + d + "\n" + zsrun_path() + " " + GetParam() +
                                             " 3 /bin/sh -c 'echo $$ > '$D'/pid.$RANK; exec sleep 60' &\n"
                                             "pid=$!; n=0\n"
                                             "while [ $(ls $D | grep -c pid) -lt 3 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done\n"
                                             "kill -INT $pid; wait $pid; echo rc=$?\n"
                                             // a zombie is gone: its reaper (here PID 1) may be slow
                                             "for f in $D/pid.*; do p=$(cat $f); [ -e /proc/$p ] && "
                                             "[ \"$(cut -d' ' -f3 /proc/$p/stat)\" != Z ] && echo alive $f; done\n");
  auto r = run("sh " + d + "/run.sh", 60);
  EXPECT_EQ(std::system(("rm -rf " + d).c_str()), 0);
  EXPECT_TRUE(contains(r.output, "rc=130")) << r.output;
  EXPECT_TRUE(contains(r.output, "zsrun: interrupted (SIGINT): stopped all 3 ranks")) << r.output;
  EXPECT_FALSE(contains(r.output, "alive")) << r.output;
  EXPECT_FALSE(contains(r.output, "exited with code")) << r.output;
  EXPECT_LT(r.seconds, zs::testing::time_limit(20)) << r.output;
}

INSTANTIATE_TEST_SUITE_P(RankKinds, ZsrunInterrupt, ::testing::Values("--num_procs", "--num_gpus"));

TEST(Zsrun, TorchrunsNprocPerNode) {
  // On a machine without GPUs it means CPU ranks; with GPUs, --num_gpus.
  auto r = zsrun("--nproc-per-node=2 /bin/sh -c 'echo \"rank=$RANK/$WORLD_SIZE\"'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 0] rank=0/2")) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 1] rank=1/2")) << r.output;
}

// ---- command line errors -------------------------------------------------------------------------

TEST(ZsrunUsage, HelpListsFlags) {
  auto r = zsrun("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--num_gpus", "--num_procs", "--include", "--exclude", "--master_addr", "--master_port",
                           "--num_nodes"}) {
    EXPECT_TRUE(contains(r.output, flag)) << flag;
  }
}

TEST(ZsrunUsage, ErrorsAreClearAndNonZero) {
  struct Case {
    std::string args;
    std::string message;
  };
  std::vector<Case> cases = {
      {"", "no program to run"},
      {"--num_procs 2", "no program to run"},
      {"--num_procs 0 /bin/true", "--num_procs wants a whole number from 1"},
      {"--num_procs abc /bin/true", "got 'abc'"},
      {"--num_gpus", "--num_gpus needs a value"},
      {"--num_gpus 2 --num_procs 2 /bin/true", "exclude each other"},
      {"--num_nodes 2 --num_procs 2 /bin/true", "--num_nodes 2 needs a --hostfile listing the nodes"},
      {"--hostfile /no/such/file /bin/true", "cannot read the hostfile /no/such/file"},
      {"--hostfile /tmp /bin/true", "cannot read the hostfile /tmp: not a file"},
      {"--no_ssh /bin/true", "--no_ssh needs the job's --hostfile"},
      {"--node_rank 1 /bin/true", "--node_rank goes with --no_ssh"},
      {"--launcher mpich /bin/true", "CPU ranks need OpenMPI"},
      {"--launcher lsf /bin/true", "want ssh (or pdsh, which means the same here), openmpi or slurm"},
      {"--launcher ssh /bin/true", "ssh needs a --hostfile"},
      {"--launcher slurm --num_procs 2 /bin/true", "runs inside a SLURM allocation"},
      {"--max_restarts -1 /bin/true", "--max_restarts wants a whole number from 0"},
      {"--ssh_port 0 /bin/true", "--ssh_port wants"},
      {"--hostfle h /bin/true", "did you mean --hostfile?"},
      {"--include localhost:0 --exclude localhost:1 /bin/true", "exclude each other"},
      {"--include otherhost:0 /bin/true", "this machine only"},
      {"--include localhost:0,0 /bin/true", "twice"},
      {"--num_procs 2 --include localhost:0 /bin/true", "do not apply to CPU ranks"},
      {"--master_port 70000 --num_procs 1 /bin/true", "--master_port wants"},
      {"--bogus 1 /bin/true", "unknown option '--bogus'"},
      {"--num_gpu 2 /bin/true", "unknown option '--num_gpu'; did you mean --num_gpus?"},
      {"--num-proc=2 /bin/true", "unknown option '--num-proc'; did you mean --num_procs?"},
      {"--master_adr 10.0.0.1 /bin/true", "did you mean --master_addr?"},
      {"--nproc_per_node 0 /bin/true", "--nproc_per_node wants a whole number from 1"},
      {"--num_procs 2 /no/such/program", "cannot run '/no/such/program'"},
  };
  for (const auto& c : cases) {
    auto r = zsrun(c.args);
    EXPECT_EQ(r.exit_code, 2) << "zsrun " << c.args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.message)) << "zsrun " << c.args << "\nwant: " << c.message << "\n" << r.output;
  }
}

// ---- mpirun's tagged output ----------------------------------------------------------------------

TEST(MpirunLineJoiner, PutsPiecesBackTogetherPerRank) {
  zs::launcher::MpirunLineJoiner joiner;
  // What mpirun printed when ranks 0 and 1 each wrote "abcN", paused, then "def\n" (seen on 2 ranks).
  auto a = joiner.feed("[1,0]<stdout>:abc0[1,1]<stdout>:abc1[1,0]<stdout>:def");
  ASSERT_EQ(a.rank_lines.size(), 1u);
  EXPECT_EQ(a.rank_lines[0].rank, 0);
  EXPECT_EQ(a.rank_lines[0].text, "abc0def");
  EXPECT_FALSE(a.own_line);
  auto b = joiner.feed("[1,1]<stdout>:def");
  ASSERT_EQ(b.rank_lines.size(), 1u);
  EXPECT_EQ(b.rank_lines[0].rank, 1);
  EXPECT_EQ(b.rank_lines[0].text, "abc1def");
  // A piece ending in '\n' directly followed by a tagged continuation of another piece.
  auto c = joiner.feed("[1,0]<stdout>:y[1,0]<stdout>:z");
  ASSERT_EQ(c.rank_lines.size(), 1u);
  EXPECT_EQ(c.rank_lines[0].text, "yz");
  // stderr pieces are their own lines; empty lines stay lines.
  auto d = joiner.feed("[1,2]<stderr>:warn");
  ASSERT_EQ(d.rank_lines.size(), 1u);
  EXPECT_TRUE(d.rank_lines[0].is_stderr);
  EXPECT_EQ(joiner.feed("[1,0]<stdout>:").rank_lines.at(0).text, "");
  // mpirun's own lines, and text that only looks like a tag.
  auto e = joiner.feed("mpirun noticed that process rank 1 [1,x]<stdout>: exited");
  EXPECT_TRUE(e.rank_lines.empty());
  EXPECT_EQ(*e.own_line, "mpirun noticed that process rank 1 [1,x]<stdout>: exited");
  // Unfinished pieces come out at the end.
  joiner.feed("[1,3]<stdout>:half[1,0]<stdout>:done");
  auto rest = joiner.finish();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].rank, 3);
  EXPECT_EQ(rest[0].text, "half");
}

TEST(RankShim, RecordsCarryAnyLineIntact) {
  const std::vector<std::string> lines = {"plain", "", "back\\slash and \\n", "tab\there", "\x1e starts like a record"};
  const std::string record = zs::launcher::encode_shim_record(lines);
  ASSERT_EQ(record.back(), '\n');
  EXPECT_EQ(record.find('\n'), record.size() - 1);  // one line for mpirun, whatever the lines hold
  auto decoded = zs::launcher::decode_shim_record(record.substr(0, record.size() - 1));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, lines);
  EXPECT_FALSE(zs::launcher::decode_shim_record("mpirun's own line"));
}

TEST(ZsrunUsage, BadHostfileLineIsNamed) {
  const std::string d = zs::testing::temp_dir("hostfile");
  zs::testing::write_text(d + "/hostfile", "node1 slots=2\nnode2 slot=2\n");
  auto r = zsrun("--hostfile " + d + "/hostfile /bin/true");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "hostfile " + d + "/hostfile, line 2: 'node2 slot=2': want 'HOST slots=N'")) << r.output;
  EXPECT_EQ(std::system(("rm -rf " + d).c_str()), 0);
}

TEST(Zsrun, HostfileOfThisMachineRunsLocally) {
  // One host, this machine: no ssh, the hostfile's slots are the GPU ids.
  const std::string d = zs::testing::temp_dir("hostfile");
  zs::testing::write_text(d + "/hostfile", "localhost slots=4\n");
  auto r = zsrun("--hostfile " + d + "/hostfile --exclude localhost:0 /bin/sh -c 'echo \"$RANK/$WORLD_SIZE cvd=$CUDA_VISIBLE_DEVICES\"'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[rank 2] 2/3 cvd=1,2,3")) << r.output;
  auto cpu = zsrun("--hostfile " + d + "/hostfile --num_procs 2 /bin/sh -c 'echo \"cpu $RANK/$WORLD_SIZE\"'");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  EXPECT_TRUE(contains(cpu.output, "[rank 1] cpu 1/2")) << cpu.output;
  EXPECT_EQ(std::system(("rm -rf " + d).c_str()), 0);
}

// ---- the progress bar zsrun draws on its terminal ------------------------------------------------

TEST(TerminalProgress, ReadsRankZerosStepLines) {
  using zs::launcher::TerminalProgress;
  const auto step = TerminalProgress::parse_step("[rank 0] step 12/600 | loss 3.1 | lr 6e-4");
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(step->first, 12);
  EXPECT_EQ(step->second, 600);
  EXPECT_TRUE(TerminalProgress::parse_step("step 3/4 | loss 1").has_value());
  EXPECT_FALSE(TerminalProgress::parse_step("step 3 | loss 1").has_value());        // no total: no bar
  EXPECT_FALSE(TerminalProgress::parse_step("[rank 1] loss at step 3/4 |").has_value());
  EXPECT_FALSE(TerminalProgress::parse_step("step 99999999999999999999999/2 |").has_value());
  EXPECT_EQ(TerminalProgress::render(5, 10, 2.0, 10), "steps [#####.....] 5/10  2.00 steps/s  ETA 3s");
  EXPECT_EQ(TerminalProgress::render(0, 10, 0.0, 4), "steps [....] 0/10");
}

TEST(Zsrun, DrawsAProgressBarOnATerminalOnly) {
  const std::string rank_script = "/tmp/zs_progress_" + std::to_string(getpid()) + ".sh";
  std::FILE* f = std::fopen(rank_script.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("for i in 1 2 3; do echo \"step $i/4 | loss 1\"; sleep 0.3; done\n", f);
  std::fclose(f);
  const std::string job = zsrun_path() + " --num_gpus 1 /bin/sh " + rank_script;
  // script(1) gives zsrun a terminal, as a person's shell would.
  const auto on_terminal = run("script -qfec \"" + job + "\" /dev/null");
  ASSERT_EQ(on_terminal.exit_code, 0) << on_terminal.output;
  EXPECT_TRUE(contains(on_terminal.output, "steps [")) << on_terminal.output;
  EXPECT_TRUE(contains(on_terminal.output, "] 3/4  ")) << on_terminal.output;      // with its rate and ETA
  EXPECT_TRUE(contains(on_terminal.output, "[rank 0] step 3/4 | loss 1")) << on_terminal.output;
  const auto piped = run(job);
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_FALSE(contains(piped.output, "steps [")) << piped.output;
  const auto turned_off = run("ZS_PROGRESS=0 script -qfec \"" + job + "\" /dev/null");
  EXPECT_FALSE(contains(turned_off.output, "steps [")) << turned_off.output;
  std::remove(rank_script.c_str());
}

}  // namespace test_launcher
