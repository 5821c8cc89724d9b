// zsrun's command line: DeepSpeed launcher flags (and torchrun's names for some), parsed by hand
// (zsrun links no third-party code).
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

// How a multi-node job reaches its nodes: a node-local zsrun over ssh (DeepSpeed's pdsh runner),
// one mpirun over the hosts, or srun inside a SLURM allocation.
enum class NodeLauncher { ssh, openmpi, slurm };

struct LaunchOptions {
  RankKind kind = RankKind::gpu;
  int num_gpus = -1;                 // per node; -1: every GPU found, or the hostfile's slots
  int num_procs = -1;                // CPU ranks per node (through mpirun)
  bool cpu_without_gpus = false;     // --nproc_per_node: CPU ranks when the machine has no GPU
  int num_nodes = -1;                // -1: every host of the hostfile (one node without a hostfile)
  std::string hostfile;
  std::string include, exclude;      // DeepSpeed's NODE_SPEC[@NODE_SPEC...] filters, as given
  std::vector<int> include_gpus;     // one node without a hostfile: --include localhost:0,2
  std::vector<int> exclude_gpus;     // one node without a hostfile: --exclude localhost:1
  std::string master_addr;           // "": 127.0.0.1 on one node, the first host across nodes
  int master_port = 29500;
  int ssh_port = 0;                  // 0: ssh's own
  NodeLauncher launcher = NodeLauncher::ssh;
  bool launcher_given = false;
  std::string launcher_args;         // extra arguments for ssh, mpirun or srun
  bool no_ssh = false;               // this node only, as node --node_rank of the hostfile
  int node_rank = -1;
  std::string world_info;            // internal: the job's layout, set for node-local zsruns
  int max_restarts = 0;
  double grace_s = 5;                // SIGTERM -> SIGKILL delay when stopping ranks
  bool help = false;
  std::string program;               // the rank program
  std::vector<std::string> program_args;

  bool multi_node() const { return !hostfile.empty() || !world_info.empty() || launcher == NodeLauncher::slurm; }
};

// Parses argv (argv[0] is zsrun itself). Throws UsageError.
LaunchOptions parse_launch_args(const std::vector<std::string>& args);

// The --help text.
std::string launch_usage();

// "localhost:0,2" (or "0,2") -> {0, 2}, for one node without a hostfile: only this machine's names.
std::vector<int> parse_gpu_selection(const std::string& flag, const std::string& value);

// True for localhost, 127.0.0.1 and this machine's host name.
bool is_this_machine(const std::string& host);

}  // namespace zs::launcher
