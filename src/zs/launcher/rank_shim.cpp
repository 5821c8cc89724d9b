#include "zs/launcher/rank_shim.hpp"

#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <initializer_list>
#include <string>

#include "zs/launcher/line_splitter.hpp"
#include "zs/launcher/run_job.hpp"   // write_all

namespace zs::launcher {
namespace {

constexpr char kRecordMark = '\x1e';
constexpr size_t kMaxRecord = 16 * 1024;  // a batch is written once it holds this much

volatile sig_atomic_t child_pid = 0;
volatile sig_atomic_t forwarded = 0;  // a signal mpirun sent to stop the job

void forward_signal(int sig) {
  forwarded = sig;
  if (child_pid > 0) kill(child_pid, sig);
}

// torchrun's variables, which the README promises every rank, from what mpirun (or srun) sets, and a
// fair share of this node's cores for OpenMP unless the job chose.
void set_rank_variables() {
  struct Pair {
    const char *ours, *mpi, *slurm;
  };
  const bool mpi = std::getenv("OMPI_COMM_WORLD_RANK") != nullptr;
  for (Pair p : {Pair{"RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"},
                 Pair{"WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS"},
                 Pair{"LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"},
                 Pair{"GROUP_RANK", nullptr, "SLURM_NODEID"}}) {
    const char* name = mpi ? p.mpi : p.slurm;
    const char* value = name ? std::getenv(name) : nullptr;
    if (value && *value) setenv(p.ours, value, 1);
  }
  // srun writes tasks per node as "2(x3)"; the count before any '(' is this node's.
  const char* local = std::getenv(mpi ? "OMPI_COMM_WORLD_LOCAL_SIZE" : "SLURM_NTASKS_PER_NODE");
  if (!mpi && !local) local = std::getenv("SLURM_TASKS_PER_NODE");
  int local_size = local ? std::atoi(local) : 0;
  if (local_size > 0) setenv("LOCAL_WORLD_SIZE", std::to_string(local_size).c_str(), 1);
  const char* omp = std::getenv("OMP_NUM_THREADS");
  if ((!omp || !*omp) && local_size > 0) {
    cpu_set_t set;
    int cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
    setenv("OMP_NUM_THREADS", std::to_string(std::max(1, cores / local_size)).c_str(), 1);
  }
}

// One of the program's streams: its pipe, the lines read so far, where they go.
struct Stream {
  int fd = -1;
  int out_fd = -1;
  LineSplitter splitter;
  std::vector<std::string> batch;
  size_t batch_bytes = 0;

  void flush() {
    if (batch.empty()) return;
    write_all(out_fd, encode_shim_record(batch));
    batch.clear();
    batch_bytes = 0;
  }
  void add(std::vector<std::string> lines) {
    for (auto& l : lines) {
      batch_bytes += l.size() + 1;
      batch.push_back(std::move(l));
      if (batch_bytes >= kMaxRecord) flush();
    }
  }
  // Reads what is there; false at end of stream.
  bool read_some() {
    char buf[65536];
    while (true) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n > 0) {
        add(splitter.feed(buf, static_cast<size_t>(n)));
        if (static_cast<size_t>(n) < sizeof(buf)) return true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      add(splitter.finish());
      close(fd);
      fd = -1;
      return false;
    }
  }
};

}  // namespace

std::string encode_shim_record(const std::vector<std::string>& lines) {
  std::string out(1, kRecordMark);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += "\\n";
    for (char c : lines[i]) {
      if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else out += c;
    }
  }
  out += '\n';
  return out;
}

std::optional<std::vector<std::string>> decode_shim_record(const std::string& line) {
  if (line.empty() || line[0] != kRecordMark) return std::nullopt;
  std::vector<std::string> lines(1);
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      ++i;
      if (line[i] == 'n') lines.emplace_back();
      else lines.back() += line[i];
    } else {
      lines.back() += line[i];
    }
  }
  return lines;
}

int run_rank_shim(int argc, char** argv) {
  if (argc < 1) {
    std::fprintf(stderr, "zsrun --rank-shim: no program given\n");
    return 2;
  }
  set_rank_variables();
  const char* rank = std::getenv("RANK");
  Stream streams[2];
  int pipes[2][2];
  for (int s = 0; s < 2; ++s) {
    if (pipe(pipes[s]) != 0) {
      std::fprintf(stderr, "zsrun --rank-shim: pipe failed: %s\n", std::strerror(errno));
      return 1;
    }
  }
  pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "zsrun --rank-shim: fork failed: %s\n", std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // if mpirun kills the shim outright, the rank goes too
    dup2(pipes[0][1], STDOUT_FILENO);
    dup2(pipes[1][1], STDERR_FILENO);
    for (auto& p : pipes) close(p[0]), close(p[1]);
    execvp(argv[0], argv);
    std::fprintf(stderr, "zsrun: cannot run '%s': %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  child_pid = pid;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  for (int s = 0; s < 2; ++s) {
    close(pipes[s][1]);
    streams[s].fd = pipes[s][0];
    streams[s].out_fd = s == 0 ? STDOUT_FILENO : STDERR_FILENO;
    fcntl(streams[s].fd, F_SETFL, fcntl(streams[s].fd, F_GETFL) | O_NONBLOCK);
  }
  // Relay until both streams end, or a second after the program exited (something it started may
  // hold them open).
  int status = 0;
  bool exited = false;
  int drain_polls = 0;
  while ((streams[0].fd >= 0 || streams[1].fd >= 0) && drain_polls < 10) {
    pollfd fds[2];
    nfds_t n = 0;
    Stream* owners[2];
    for (auto& s : streams) {
      if (s.fd >= 0) {
        fds[n] = {s.fd, POLLIN, 0};
        owners[n++] = &s;
      }
    }
    if (poll(fds, n, 100) < 0 && errno != EINTR) break;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) owners[i]->read_some();
    }
    for (auto& s : streams) s.flush();  // nothing more to read just now: pass on what is complete
    if (!exited) exited = waitpid(pid, &status, WNOHANG) == pid;
    if (exited) ++drain_polls;
  }
  for (auto& s : streams) {
    if (s.fd >= 0) s.add(s.splitter.finish());
    s.flush();
  }
  while (!exited && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int code = 0;
  std::string report;
  if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
    if (code != 0 && !forwarded) {
      report = "[zeroshard] rank " + std::string(rank ? rank : "?") + ": exits with code " + std::to_string(code) +
               " (the program failed)";
    }
  } else if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    code = 128 + sig;
    if (sig != forwarded) {
      report = "[zeroshard] rank " + std::string(rank ? rank : "?") + ": exits with code " + std::to_string(code) +
               " (killed by signal " + std::to_string(sig) + ", " + strsignal(sig) + ")";
    }
  }
  if (!report.empty()) write_all(STDERR_FILENO, encode_shim_record({report}));
  return code;
}

}  // namespace zs::launcher
