#include "zs/launcher/rank_shim.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace zs::launcher {
namespace {

volatile sig_atomic_t child_pid = 0;

void forward_signal(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

}  // namespace

int run_rank_shim(int argc, char** argv) {
  if (argc < 1) {
    std::fprintf(stderr, "zsrun --rank-shim: no program given\n");
    return 2;
  }
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "zsrun --rank-shim: fork failed: %s\n", std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // if mpirun kills the shim outright, the rank goes too
    execvp(argv[0], argv);
    std::fprintf(stderr, "zsrun: cannot run '%s': %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  child_pid = pid;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) sigaction(sig, &sa, nullptr);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int code = 0;
  if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
    if (code != 0) std::fprintf(stderr, "[zeroshard] rank %s: exits with code %d (the program failed)\n", rank ? rank : "?", code);
  } else if (WIFSIGNALED(status)) {
    code = 128 + WTERMSIG(status);
    std::fprintf(stderr, "[zeroshard] rank %s: exits with code %d (killed by signal %d, %s)\n", rank ? rank : "?", code,
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  std::fflush(stderr);
  return code;
}

}  // namespace zs::launcher
