// zsrun's command line: DeepSpeed launcher flags, parsed by hand (zsrun links no third-party code).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace zs::launcher {

// A command line zsrun cannot act on; the message says what to change.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class RankKind { gpu, cpu };

struct LaunchOptions {
  RankKind kind = RankKind::gpu;
  int num_gpus = -1;                 // -1: every GPU found on this machine
  int num_procs = -1;                // CPU ranks (through mpirun)
  bool cpu_without_gpus = false;     // --nproc_per_node: CPU ranks when the machine has no GPU
  int num_nodes = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::vector<int> include_gpus;     // from --include localhost:0,2
  std::vector<int> exclude_gpus;     // from --exclude localhost:1
  double grace_s = 5;                // SIGTERM -> SIGKILL delay when stopping ranks
  bool help = false;
  std::string program;               // the rank program
  std::vector<std::string> program_args;
};

// Parses argv (argv[0] is zsrun itself). Throws UsageError.
LaunchOptions parse_launch_args(const std::vector<std::string>& args);

// The --help text.
std::string launch_usage();

// "localhost:0,2" (or "0,2") -> {0, 2}. Only this machine's names are accepted: one node for now.
std::vector<int> parse_gpu_selection(const std::string& flag, const std::string& value);

}  // namespace zs::launcher
