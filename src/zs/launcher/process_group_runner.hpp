// Runs a group of child processes as one job: their output comes back line by line, and the first
// child that fails (non-zero exit or a signal) brings the others down (SIGTERM, then SIGKILL after
// a grace period). SIGINT/SIGTERM/SIGHUP sent to this process are passed on to the children; a
// second one (an impatient Ctrl-C) kills them at once.
//
// A child can instead be stopped through its stdin (ChildSpec::stop_by_stdin): the runner keeps a
// pipe to it open and closes it to ask the child to stop (an ssh session, whose remote zsrun reads
// the end of its stdin as "stop every rank of this node"); signals follow only if it does not go.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace zs::launcher {

struct ChildSpec {
  std::vector<std::string> argv;   // argv[0]: the program (searched on PATH when it has no '/')
  std::vector<std::string> env;    // the child's whole environment, "NAME=value"
  size_t max_line = 64 * 1024;     // longer lines are passed on in pieces (mpirun's: far longer, see
                                   // mpirun_output.hpp)
  bool stop_by_stdin = false;      // see above
};

// Called for each whole line a child writes, in the order lines arrive (one thread).
using LineSink = std::function<void(int child, bool is_stderr, const std::string& line)>;

struct ChildExit {
  int child = -1;
  int exit_code = 0;    // the exit status, or 128+signal
  int signal = 0;       // the signal that killed it, 0 when it exited
};

struct GroupResult {
  int exit_code = 0;                       // the first failure's code, else 0
  std::optional<ChildExit> first_failure;  // the child that failed first
  int others_stopped = 0;                  // children still running when that happened
  int forwarded_signal = 0;                // a signal this process received and passed on
  bool failed_before_signal = false;       // first_failure came before that signal
  bool stop_requested = false;             // stop() was called (before any failure)
  bool watched_fd_closed = false;          // the watched fd ended (before any failure or signal)
};

class ProcessGroupRunner {
 public:
  ProcessGroupRunner(std::vector<ChildSpec> children, LineSink sink, double grace_s = 5.0);
  // Starts the children and supervises them until all have exited and their output is drained.
  GroupResult run();
  // From the sink: stop every child, as after a failure (a failure reported in a child's output).
  void stop();
  // Before run(): the end of this fd (a node-local zsrun's stdin, from ssh) stops every child.
  void watch_fd(int fd) { watch_fd_ = fd; }
  // Before run(): called when the first child fails, before the others are stopped.
  void on_first_failure(std::function<void(const ChildExit&)> fn) { on_first_failure_ = std::move(fn); }
  // Before run(): called about every 100 ms while the children run.
  void on_tick(std::function<void()> fn) { on_tick_ = std::move(fn); }

 private:
  std::vector<ChildSpec> children_;
  LineSink sink_;
  double grace_s_;
  bool stop_requested_ = false;
  int watch_fd_ = -1;
  std::function<void(const ChildExit&)> on_first_failure_;
  std::function<void()> on_tick_;
};

// "SIGSEGV"-style name of a signal, for messages.
std::string signal_name(int sig);

}  // namespace zs::launcher
