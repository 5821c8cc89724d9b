#include "zs/launcher/zsrun_main.hpp"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <thread>

#include "zs/launcher/launch_plan.hpp"
#include "zs/launcher/mpirun_output.hpp"
#include "zs/launcher/rank_shim.hpp"

extern char** environ;

namespace zs::launcher {
namespace {

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader went away; nothing useful to do
    done += static_cast<size_t>(n);
  }
}

// One write per line: a line is never split by another rank's output.
void emit_line(bool is_stderr, int rank, const std::string& text) {
  write_all(is_stderr ? STDERR_FILENO : STDOUT_FILENO, "[rank " + std::to_string(rank) + "] " + text + "\n");
}

void say(const std::string& message) { write_all(STDERR_FILENO, "zsrun: " + message + "\n"); }

int usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

void report_failure(int rank, int exit_code, int signal, int world) {
  if (signal) say("rank " + std::to_string(rank) + " was killed by signal " + std::to_string(signal) + " (" +
                  signal_name(signal) + ")");
  std::string msg = "rank " + std::to_string(rank) + " exited with code " + std::to_string(exit_code);
  if (world > 1) msg += "; stopped the other ranks";
  say(msg);
}

// Ctrl-C (or a SIGTERM/SIGHUP from a scheduler) ends the job: that is an interruption, not a failure
// of the rank that happened to die of the passed-on signal first.
int report_interruption(int sig, int world) {
  say("interrupted (" + signal_name(sig) + "): stopped " + (world > 1 ? "all " + std::to_string(world) + " ranks" : "the rank"));
  return 128 + sig;
}

int run_gpu_ranks(const LaunchPlan& plan, const LaunchOptions& opts) {
  ProcessGroupRunner runner(
      plan.children, [](int child, bool is_stderr, const std::string& line) { emit_line(is_stderr, child, line); },
      opts.grace_s);
  GroupResult result = runner.run();
  if (result.forwarded_signal && !result.failed_before_signal) {
    return report_interruption(result.forwarded_signal, plan.world_size);
  }
  if (result.first_failure) {
    const ChildExit& f = *result.first_failure;
    report_failure(f.child, f.exit_code, f.signal, plan.world_size);
  }
  return result.exit_code;
}

int run_cpu_ranks(const LaunchPlan& plan, const LaunchOptions& opts) {
  MpirunFailureParser failures;
  MpirunLineJoiner joiners[2];  // mpirun's stdout and stderr
  auto relay = [&failures](const TaggedLine& line) {
    // The rank shim's records (rank_shim.hpp); a line mpirun tagged itself otherwise.
    auto lines = decode_shim_record(line.text);
    for (const std::string& text : lines ? *lines : std::vector<std::string>{line.text}) {
      failures.feed_rank_line(line.rank, text);
      emit_line(line.is_stderr, line.rank, text);
    }
  };
  ProcessGroupRunner runner(
      plan.children,
      [&](int, bool from_stderr, const std::string& line) {
        MpirunPieces pieces = joiners[from_stderr].feed(line);
        if (pieces.own_line) {
          failures.feed(*pieces.own_line);
          write_all(from_stderr ? STDERR_FILENO : STDOUT_FILENO, *pieces.own_line + "\n");
        }
        for (const TaggedLine& t : pieces.rank_lines) relay(t);
      },
      opts.grace_s);
  GroupResult result = runner.run();
  for (auto& joiner : joiners) {
    for (const TaggedLine& t : joiner.finish()) relay(t);
  }
  if (result.forwarded_signal && !result.failed_before_signal) {
    return report_interruption(result.forwarded_signal, plan.world_size);
  }
  if (result.exit_code == 0) return 0;
  if (auto f = failures.failure(result.exit_code)) {
    report_failure(f->rank, f->exit_code, f->signal, plan.world_size);
    return f->exit_code != 0 ? f->exit_code : result.exit_code;
  }
  say("mpirun exited with code " + std::to_string(result.exit_code) + " (it did not say which rank failed)");
  return result.exit_code;
}

}  // namespace

int zsrun_main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--rank-shim") {
    const int skip = argc >= 3 && std::string(argv[2]) == "--" ? 3 : 2;
    return run_rank_shim(argc - skip, argv + skip);
  }
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  try {
    LaunchOptions opts = parse_launch_args(args);
    if (opts.help) {
      write_all(STDOUT_FILENO, launch_usage());
      return 0;
    }
    LaunchPlan plan = make_launch_plan(opts, env, usable_cores());
    return plan.kind == RankKind::cpu ? run_cpu_ranks(plan, opts) : run_gpu_ranks(plan, opts);
  } catch (const UsageError& e) {
    say(std::string("error: ") + e.what());
    say("run `zsrun --help` for the options");
    return 2;
  } catch (const std::exception& e) {
    say(std::string("error: ") + e.what());
    return 1;
  }
}

}  // namespace zs::launcher
