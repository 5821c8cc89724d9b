#include "zs/launcher/run_job.hpp"

#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <optional>

#include "zs/launcher/mpirun_output.hpp"
#include "zs/launcher/rank_reports.hpp"
#include "zs/launcher/rank_shim.hpp"
#include "zs/launcher/terminal_progress.hpp"

namespace zs::launcher {
namespace {

using Clock = std::chrono::steady_clock;

// The bar beneath the ranks' lines when zsrun's stderr is a terminal (terminal_progress.hpp).
TerminalProgress& progress() {
  static TerminalProgress bar = TerminalProgress::for_stderr();
  return bar;
}

// One whole line to the terminal or log, the progress bar erased before and redrawn after it.
void print_line(int fd, const std::string& line) {
  progress().before_line();
  write_all(fd, line + "\n");
  progress().after_line(line);
}

void emit(bool is_stderr, const std::string& prefix, const std::string& text) {
  print_line(is_stderr ? STDERR_FILENO : STDOUT_FILENO, prefix + text);
}

// zsrun's own message (ends with its newline).
void tell(const std::string& message) {
  progress().before_line();
  write_all(STDERR_FILENO, message);
}

std::string exit_text(int code, int sig) {
  std::string s = "exited with code " + std::to_string(code);
  if (sig) s += " (killed by signal " + std::to_string(sig) + ", " + signal_name(sig) + ")";
  return s;
}

// "rank 3" or "rank 3 on node2".
std::string rank_text(const LaunchPlan& plan, int rank) {
  std::string s = "rank " + std::to_string(rank);
  if (!plan.nodes.empty() && rank >= 0 && rank < static_cast<int>(plan.rank_node.size())) {
    s += " on " + plan.nodes[static_cast<size_t>(plan.rank_node[static_cast<size_t>(rank)])];
  }
  return s;
}

std::string stopped_text(const LaunchPlan& plan) {
  if (plan.shape == PlanShape::ssh_nodes || (plan.nodes.size() > 1 && plan.node < 0)) return "stopped every node";
  if (plan.node >= 0) return "stopped this node's other ranks";
  return plan.world_size > 1 ? "stopped the other ranks" : "";
}

// The summary line of a failed run, from the first report; returns the exit code.
int report_failure(const LaunchPlan& plan, const RankReport& r, int fallback_code) {
  const std::string stopped = stopped_text(plan);
  const std::string tail = stopped.empty() ? "" : "; " + stopped;
  const std::string who = plan.own_prefix();
  if (r.kind == RankReport::Kind::hung) {
    tell(who + rank_text(plan, r.rank) + " " + r.detail + " (found by the watchdog on rank " +
         std::to_string(r.reporter) + ")" + tail + "\n");
    return fallback_code != 0 ? fallback_code : 1;
  }
  if (r.kind == RankReport::Kind::noticed) {
    tell(who + rank_text(plan, r.rank) + " exited with code " + std::to_string(fallback_code) +
         " after: " + r.detail + tail + "\n");
    return fallback_code;
  }
  if (r.signal) {
    tell(who + rank_text(plan, r.rank) + " was killed by signal " + std::to_string(r.signal) + " (" +
         signal_name(r.signal) + ")\n");
  }
  tell(who + rank_text(plan, r.rank) + " exited with code " + std::to_string(r.exit_code) + tail + "\n");
  return r.exit_code != 0 ? r.exit_code : fallback_code;
}

JobOutcome interrupted(const LaunchPlan& plan, int sig) {
  std::string what = plan.shape == PlanShape::ssh_nodes ? "every node"
                     : plan.world_size > 1             ? "all " + std::to_string(plan.world_size) + " ranks"
                                                       : "the rank";
  if (plan.node >= 0) what = "this node's ranks";
  tell(plan.own_prefix() + "interrupted (" + signal_name(sig) + "): stopped " + what + "\n");
  return {128 + sig, true};
}

// ---- ranks zsrun starts itself (one node, or one node of a multi-node job) ----------------------

JobOutcome run_local_ranks(const LaunchPlan& plan, const LaunchOptions& opts) {
  RankReports reports;
  ProcessGroupRunner runner(
      plan.children,
      [&](int child, bool is_stderr, const std::string& line) {
        emit(is_stderr, plan.prefix(plan.first_rank + child), line);
        reports.feed(line);
      },
      opts.grace_s);
  if (plan.node >= 0) {
    // Across nodes, say it at once: the launching zsrun stops every node when it reads this line.
    runner.on_first_failure([&](const ChildExit& f) {
      tell(plan.own_prefix() + rank_text(plan, plan.first_rank + f.child) + " " +
           exit_text(f.exit_code, f.signal) + "; stopping this node's other ranks\n");
    });
  }
  if (plan.agent) runner.watch_fd(STDIN_FILENO);
  const GroupResult result = runner.run();
  if (result.forwarded_signal && !result.failed_before_signal) return interrupted(plan, result.forwarded_signal);
  if (result.watched_fd_closed) {
    tell(plan.own_prefix() + "stopped this node's ranks: the job ended on another node\n");
    return {128 + SIGTERM, false};
  }
  const auto first = reports.first();
  if (first && first->kind == RankReport::Kind::hung) return {report_failure(plan, *first, result.exit_code), false};
  if (result.first_failure) {
    const ChildExit& f = *result.first_failure;
    if (plan.node < 0) {
      RankReport r;
      r.rank = plan.first_rank + f.child;
      r.exit_code = f.exit_code;
      r.signal = f.signal;
      report_failure(plan, r, f.exit_code);
    }
    return {f.exit_code, false};
  }
  return {0, false};
}

// ---- ranks behind mpirun or srun (each under the rank shim) ------------------------------------

// srun --label: "  3: text" -> (3, "text").
bool parse_srun_label(const std::string& line, int* rank, std::string* text) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  const size_t start = i;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if (i == start || i + 1 >= line.size() + 1 || line.compare(i, 2, ": ") != 0) return false;
  *rank = std::stoi(line.substr(start, i - start));
  *text = line.substr(i + 2);
  return true;
}

JobOutcome run_behind_launcher(const LaunchPlan& plan, const LaunchOptions& opts) {
  const bool srun = plan.shape == PlanShape::srun;
  MpirunFailureParser failures;
  MpirunLineJoiner joiners[2];  // mpirun's stdout and stderr
  RankReports reports;
  std::optional<Clock::time_point> reported_at;
  auto relay = [&](int rank, bool is_stderr, const std::string& text) {
    // The rank shim's records (rank_shim.hpp); a line written without it otherwise.
    auto lines = decode_shim_record(text);
    for (const std::string& line : lines ? *lines : std::vector<std::string>{text}) {
      reports.feed(line);
      emit(is_stderr, plan.prefix(rank), line);
    }
    if (reports.has_failure() && !reported_at) reported_at = Clock::now();
  };
  ProcessGroupRunner runner(
      plan.children,
      [&](int, bool from_stderr, const std::string& line) {
        if (srun) {
          int rank = 0;
          std::string text;
          if (parse_srun_label(line, &rank, &text)) relay(rank, from_stderr, text);
          else write_all(from_stderr ? STDERR_FILENO : STDOUT_FILENO, line + "\n");
          return;
        }
        MpirunPieces pieces = joiners[from_stderr].feed(line);
        if (pieces.own_line) {
          failures.feed(*pieces.own_line);
          write_all(from_stderr ? STDERR_FILENO : STDOUT_FILENO, *pieces.own_line + "\n");
        }
        for (const TaggedLine& t : pieces.rank_lines) relay(t.rank, t.is_stderr, t.text);
      },
      opts.grace_s);
  // A rank reported a failure, but mpirun (or srun) does not end the job: a node it cannot reach
  // any more (stopped, cut off). Stop it, after the time its own stop would take.
  runner.on_tick([&] {
    if (reported_at && Clock::now() - *reported_at > std::chrono::duration<double>(opts.grace_s + 10)) runner.stop();
  });
  const GroupResult result = runner.run();
  for (auto& joiner : joiners) {
    for (const TaggedLine& t : joiner.finish()) relay(t.rank, t.is_stderr, t.text);
  }
  if (result.forwarded_signal && !result.failed_before_signal) return interrupted(plan, result.forwarded_signal);
  if (result.exit_code == 0 && !result.stop_requested) return {0, false};
  const int code = result.exit_code != 0 ? result.exit_code : 1;
  const auto first = reports.first();
  if (first && first->kind != RankReport::Kind::noticed) return {report_failure(plan, *first, code), false};
  if (auto f = failures.failure()) {
    RankReport r;
    r.rank = f->rank;
    r.exit_code = f->exit_code != 0 ? f->exit_code : code;
    r.signal = f->signal;
    return {report_failure(plan, r, code), false};
  }
  if (first) return {report_failure(plan, *first, code), false};
  say(std::string(srun ? "srun" : "mpirun") + " exited with code " + std::to_string(code) +
      " (it did not say which rank failed)");
  return {code, false};
}

// ---- a node-local zsrun per node, over ssh --------------------------------------------------------

JobOutcome run_ssh_nodes(const LaunchPlan& plan, const LaunchOptions& opts) {
  RankReports reports;
  ProcessGroupRunner* self = nullptr;
  ProcessGroupRunner runner(
      plan.children,
      [&](int child, bool is_stderr, const std::string& line) {
        const bool from_zsrun = line.rfind("zsrun[", 0) == 0;
        const std::string text = without_rank_prefix(line);
        if (from_zsrun || text.size() != line.size()) {
          print_line(is_stderr ? STDERR_FILENO : STDOUT_FILENO, line);  // already says its node and rank
          reports.feed(text);
          if (reports.has_failure()) self->stop();  // every node, now
        } else {
          emit(is_stderr, "[" + plan.nodes[static_cast<size_t>(child)] + "] ", line);  // ssh's own message
        }
      },
      opts.grace_s);
  self = &runner;
  const GroupResult result = runner.run();
  if (result.forwarded_signal && !result.failed_before_signal) return interrupted(plan, result.forwarded_signal);
  const auto first = reports.first();
  if (first && first->kind != RankReport::Kind::noticed) return {report_failure(plan, *first, result.exit_code), false};
  if (result.first_failure) {
    const ChildExit& f = *result.first_failure;
    const std::string& host = plan.nodes[static_cast<size_t>(f.child)];
    if (f.exit_code == 255) {
      say("node " + host + ": ssh failed (code 255: it could not connect, or the connection broke; see above); "
          "stopped every node");
    } else {
      say("node " + host + " " + exit_text(f.exit_code, f.signal) + "; stopped every node");
    }
    return {f.exit_code, false};
  }
  return {0, false};
}

}  // namespace

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader went away; nothing useful to do
    done += static_cast<size_t>(n);
  }
}

void say(const std::string& message) { tell("zsrun: " + message + "\n"); }
                                            
                                            JobOutcome run_job(const LaunchPlan& plan, const LaunchOptions& opts) {
                                            JobOutcome outcome{1, false};
  switch (plan.shape) {
    case PlanShape::local_ranks: outcome = run_local_ranks(plan, opts); break;
    case PlanShape::mpirun:
    case PlanShape::srun: outcome = run_behind_launcher(plan, opts); break;
    case PlanShape::ssh_nodes: outcome = run_ssh_nodes(plan, opts); break;
  }
  progress().finish();
  return outcome;
}

}  // namespace zs::launcher
