#include "zs/launcher/process_group_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "zs/launcher/line_splitter.hpp"

namespace zs::launcher {
namespace {

using Clock = std::chrono::steady_clock;

// Signals reach the poll loop through this pipe (the self-pipe trick): handlers only write a byte.
int g_signal_pipe[2] = {-1, -1};

void on_signal(int sig) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(sig);
  ssize_t ignored = write(g_signal_pipe[1], &b, 1);
  (void)ignored;
  errno = saved;
}

void set_cloexec_nonblock(int fd) {
  fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

struct Child {
  pid_t pid = -1;
  bool running = false;
  int out_fd = -1, err_fd = -1;
  int in_fd = -1;                               // our end of its stdin pipe (stop_by_stdin)
  LineSplitter out_lines, err_lines;
  std::optional<Clock::time_point> term_at;     // when to send SIGTERM (stopping it)
  std::optional<Clock::time_point> kill_at;     // when to send SIGKILL
};

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void exec_child(const ChildSpec& spec, char* const* argv, char* const* envp, int in_r, int out_w,
                             int err_w, pid_t parent) {
  // Its own process group, so a stop reaches whatever the rank started too.
  setpgid(0, 0);
  // If zsrun dies without cleaning up (SIGKILL), the rank goes too.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(128 + SIGTERM);
  // Default signal dispositions and an empty mask for the program.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE}) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  int in = in_r >= 0 ? in_r : open("/dev/null", O_RDONLY);
  if (in >= 0) dup2(in, STDIN_FILENO);
  dup2(out_w, STDOUT_FILENO);
  dup2(err_w, STDERR_FILENO);
  execvpe(argv[0], argv, envp);
  const char* prefix = "zsrun: cannot run '";
  ssize_t r = write(STDERR_FILENO, prefix, strlen(prefix));
  r = write(STDERR_FILENO, argv[0], strlen(argv[0]));
  const char* mid = "': ";
  r = write(STDERR_FILENO, mid, strlen(mid));
  const char* why = strerror(errno);
  r = write(STDERR_FILENO, why, strlen(why));
  r = write(STDERR_FILENO, "\n", 1);
  (void)r;
  _exit(127);
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

ProcessGroupRunner::ProcessGroupRunner(std::vector<ChildSpec> children, LineSink sink, double grace_s)
    : children_(std::move(children)), sink_(std::move(sink)), grace_s_(grace_s) {}

void ProcessGroupRunner::stop() { stop_requested_ = true; }

GroupResult ProcessGroupRunner::run() {
  if (pipe(g_signal_pipe) != 0) throw std::runtime_error("zsrun: pipe() failed");
  set_cloexec_nonblock(g_signal_pipe[0]);
  set_cloexec_nonblock(g_signal_pipe[1]);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  struct sigaction old_int, old_term, old_hup, old_chld;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGHUP, &sa, &old_hup);
  sigaction(SIGCHLD, &sa, &old_chld);
  signal(SIGPIPE, SIG_IGN);  // a closed reader of our stdout must not kill the supervisor

  std::vector<Child> kids(children_.size());
  const pid_t self = getpid();
  for (size_t i = 0; i < children_.size(); ++i) {
    int out[2], err[2], in[2] = {-1, -1};
    if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("zsrun: pipe() failed");
    if (children_[i].stop_by_stdin && pipe(in) != 0) throw std::runtime_error("zsrun: pipe() failed");
    auto argv = c_strings(children_[i].argv);
    auto envp = c_strings(children_[i].env);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("zsrun: fork() failed: ") + strerror(errno));
    if (pid == 0) {
      close(out[0]);
      close(err[0]);
      if (in[1] >= 0) close(in[1]);
      exec_child(children_[i], argv.data(), envp.data(), in[0], out[1], err[1], self);
    }
    setpgid(pid, pid);  // also here, so the group exists before we might signal it
    close(out[1]);
    close(err[1]);
    if (in[0] >= 0) close(in[0]);
    set_cloexec_nonblock(out[0]);
    set_cloexec_nonblock(err[0]);
    if (in[1] >= 0) set_cloexec_nonblock(in[1]);
    kids[i].pid = pid;
    kids[i].running = true;
    kids[i].out_fd = out[0];
    kids[i].err_fd = err[0];
    kids[i].in_fd = in[1];
    kids[i].out_lines = LineSplitter(children_[i].max_line);
    kids[i].err_lines = LineSplitter(children_[i].max_line);
  }

  GroupResult result;
  std::optional<Clock::time_point> drain_deadline;  // stop reading pipes held open by grandchildren
  const auto grace = std::chrono::milliseconds(static_cast<long>(grace_s_ * 1000));
  bool stopping = false;

  // Asks child i to stop: closes its stdin (it stops on its own, signals follow after a while), or
  // sends `sig` now; SIGKILL after the grace period either way.
  auto stop_child = [&](size_t i, int sig) {
    Child& k = kids[i];
    if (!k.running) return;
    const auto now = Clock::now();
    if (k.in_fd >= 0) {
      close(k.in_fd);
      k.in_fd = -1;
      // Its own stop takes up to a grace period; then ours.
      if (!k.term_at) k.term_at = now + grace + std::chrono::seconds(5);
    } else if (k.in_fd < 0 && !children_[i].stop_by_stdin) {
      kill(-k.pid, sig);
      if (!k.kill_at) k.kill_at = now + grace;
    }
  };
  auto stop_all = [&](int sig) {
    stopping = true;
    for (size_t i = 0; i < kids.size(); ++i) stop_child(i, sig);
  };
  auto emit = [&](size_t i, bool is_stderr, std::vector<std::string> lines) {
    for (auto& line : lines) sink_(static_cast<int>(i), is_stderr, line);
  };
  auto read_fd = [&](size_t i, bool is_stderr) {
    int& fd = is_stderr ? kids[i].err_fd : kids[i].out_fd;
    LineSplitter& splitter = is_stderr ? kids[i].err_lines : kids[i].out_lines;
    char buf[65536];
    while (true) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n > 0) {
        emit(i, is_stderr, splitter.feed(buf, static_cast<size_t>(n)));
        continue;
      }
      if (n < 0 && (errno == EINTR)) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      emit(i, is_stderr, splitter.finish());  // EOF (or an error: treat alike)
      close(fd);
      fd = -1;
      return;
    }
  };
  auto reap = [&]() {
    for (size_t i = 0; i < kids.size(); ++i) {
      if (!kids[i].running) continue;
      int status = 0;
      pid_t r = waitpid(kids[i].pid, &status, WNOHANG);
      if (r != kids[i].pid) continue;
      kids[i].running = false;
      if (kids[i].in_fd >= 0) {
        close(kids[i].in_fd);
        kids[i].in_fd = -1;
      }
      ChildExit ex;
      ex.child = static_cast<int>(i);
      if (WIFSIGNALED(status)) {
        ex.signal = WTERMSIG(status);
        ex.exit_code = 128 + ex.signal;
      } else {
        ex.exit_code = WEXITSTATUS(status);
      }
      // Children dying of our own stop are not failures.
      if (ex.exit_code != 0 && !result.first_failure && !stopping) {
        result.first_failure = ex;
        result.exit_code = ex.exit_code;
        if (on_first_failure_) on_first_failure_(ex);
        for (auto& k : kids) result.others_stopped += k.running ? 1 : 0;
        stop_all(SIGTERM);
      }
    }
  };

  while (true) {
    bool any_running = false, any_open = false;
    for (auto& k : kids) {
      any_running |= k.running;
      any_open |= (k.out_fd >= 0 || k.err_fd >= 0);
    }
    if (!any_running && !any_open) break;
    if (!any_running && !drain_deadline) drain_deadline = Clock::now() + std::chrono::seconds(1);
    if (drain_deadline && Clock::now() >= *drain_deadline) break;
    if (on_tick_) on_tick_();
    if (stop_requested_ && !stopping) {
      if (!result.first_failure && !result.forwarded_signal) result.stop_requested = true;
      stop_all(SIGTERM);
    }
    const auto now = Clock::now();
    for (auto& k : kids) {
      if (!k.running) continue;
      if (k.term_at && now >= *k.term_at) {
        kill(-k.pid, SIGTERM);
        k.term_at.reset();
        k.kill_at = now + grace;
      }
      if (k.kill_at && now >= *k.kill_at) {
        kill(-k.pid, SIGKILL);
        k.kill_at.reset();
      }
    }

    std::vector<pollfd> fds;
    std::vector<std::pair<size_t, int>> owners;  // child, stream (0 out, 1 err, 2 the watched fd)
    fds.push_back({g_signal_pipe[0], POLLIN, 0});
    owners.push_back({0, -1});
    if (watch_fd_ >= 0) {
      fds.push_back({watch_fd_, POLLIN, 0});
      owners.push_back({0, 2});
    }
    for (size_t i = 0; i < kids.size(); ++i) {
      if (kids[i].out_fd >= 0) {
        fds.push_back({kids[i].out_fd, POLLIN, 0});
        owners.push_back({i, 0});
      }
      if (kids[i].err_fd >= 0) {
        fds.push_back({kids[i].err_fd, POLLIN, 0});
        owners.push_back({i, 1});
      }
    }
    int ready = poll(fds.data(), fds.size(), 100);
    if (ready < 0 && errno != EINTR) throw std::runtime_error("zsrun: poll() failed");
    for (size_t f = 1; f < fds.size(); ++f) {
      if (!(fds[f].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (owners[f].second == 2) {
        char buf[256];
        const ssize_t n = read(watch_fd_, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
          watch_fd_ = -1;
          if (!stopping && !result.first_failure && !result.forwarded_signal) result.watched_fd_closed = true;
          stop_all(SIGTERM);
        }
        continue;
      }
      read_fd(owners[f].first, owners[f].second == 1);
    }
    if (fds[0].revents & POLLIN) {
      unsigned char sigs[64];
      ssize_t n;
      while ((n = read(g_signal_pipe[0], sigs, sizeof(sigs))) > 0) {
        for (ssize_t s = 0; s < n; ++s) {
          int sig = sigs[s];
          if (sig == SIGCHLD) continue;  // reaped below
          if (result.forwarded_signal) {
            for (auto& k : kids) {  // asked twice: no more grace
              if (k.running) kill(-k.pid, SIGKILL);
            }
            continue;
          }
          result.forwarded_signal = sig;
          result.failed_before_signal = result.first_failure.has_value();
          stop_all(sig);
        }
      }
    }
    reap();
  }

  for (size_t i = 0; i < kids.size(); ++i) {
    for (int* fd : {&kids[i].out_fd, &kids[i].err_fd}) {
      if (*fd >= 0) {
        emit(i, fd == &kids[i].err_fd, (fd == &kids[i].err_fd ? kids[i].err_lines : kids[i].out_lines).finish());
        close(*fd);
        *fd = -1;
      }
    }
    if (kids[i].in_fd >= 0) close(kids[i].in_fd);
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  sigaction(SIGCHLD, &old_chld, nullptr);
  close(g_signal_pipe[0]);
  close(g_signal_pipe[1]);
  g_signal_pipe[0] = g_signal_pipe[1] = -1;
  return result;
}

}  // namespace zs::launcher
