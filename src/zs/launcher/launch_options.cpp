#include "zs/launcher/launch_options.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "zs/base/strings.hpp"

namespace zs::launcher {
namespace {

int parse_count(const std::string& flag, const std::string& value, int min_value, int max_value) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0 || v < min_value || v > max_value) {
    throw UsageError(flag + " wants a whole number from " + std::to_string(min_value) + " to " +
                     std::to_string(max_value) + ", got '" + value + "'");
  }
  return static_cast<int>(v);
}

// Accept --num_gpus and --num-gpus alike.
std::string normalize_flag(std::string flag) {
  std::replace(flag.begin(), flag.end(), '-', '_');
  return "--" + flag.substr(2);
}

// zsrun's options: those that take a value, the switches, and other launchers' names for them.
const char* const kValueFlags[] = {"--num_gpus",     "--num_procs",     "--num_nodes",  "--master_addr",
                                   "--master_port",  "--include",       "--exclude",    "--grace_s",
                                   "--hostfile",     "--ssh_port",      "--launcher",   "--launcher_args",
                                   "--node_rank",    "--max_restarts",  "--world_info"};
const char* const kSwitches[] = {"--help", "--no_ssh"};
struct Alias {
  const char *name, *means;
};
const Alias kAliases[] = {{"--nproc_per_node", "--num_gpus"}, {"--nnodes", "--num_nodes"},
                          {"--max-restarts", "--max_restarts"}};

// "unknown option '--num_gpu'; did you mean --num_gpus?" when one option is close enough.
std::string unknown_option_message(const std::string& given, const std::string& flag) {
  std::vector<std::string> names(std::begin(kValueFlags), std::end(kValueFlags));
  names.insert(names.end(), std::begin(kSwitches), std::end(kSwitches));
  for (const Alias& a : kAliases) names.push_back(a.name);
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& name : names) {
    size_t d = edit_distance(flag, name);
    if (name.rfind(flag, 0) == 0 && flag.size() > 4) d = std::min<size_t>(d, 1);  // an abbreviation
    if (d < best_distance) best_distance = d, best = name;
  }
  std::string message = "unknown option '" + given + "'";
  if (best_distance <= std::max<size_t>(2, flag.size() / 4)) message += "; did you mean " + best + "?";
  return message;
}

NodeLauncher parse_launcher(const std::string& value) {
  if (value == "ssh" || value == "pdsh") return NodeLauncher::ssh;
  if (value == "openmpi") return NodeLauncher::openmpi;
  if (value == "slurm") return NodeLauncher::slurm;
  if (value == "mpich" || value == "impi" || value == "mvapich") {
    throw UsageError("--launcher " + value + ": CPU ranks need OpenMPI (ZeroShard's MPI); GPU ranks started by " +
                     "that MPI's mpiexec directly find their rank from PMI_RANK/PMI_SIZE (use --launcher openmpi, "
                     "ssh or slurm to let zsrun start them)");
  }
  throw UsageError("--launcher '" + value + "': want ssh (or pdsh, which means the same here), openmpi or slurm");
}

}  // namespace

bool is_this_machine(const std::string& host) {
  if (host == "localhost" || host == "127.0.0.1") return true;
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) == 0 && host == name) return true;
  return false;
}

std::vector<int> parse_gpu_selection(const std::string& flag, const std::string& value) {
  if (value.find('@') != std::string::npos) {
    throw UsageError(flag + " '" + value + "' names several hosts: give them in a --hostfile");
  }
  std::string list = value;
  auto colon = value.find(':');
  if (colon != std::string::npos) {
    std::string host = value.substr(0, colon);
    if (!is_this_machine(host)) {
      throw UsageError(flag + " names host '" + host + "'; without --hostfile zsrun runs on this machine only "
                       "(use localhost, or list the hosts in a --hostfile)");
    }
    list = value.substr(colon + 1);
  } else if (!list.empty() && !std::isdigit(static_cast<unsigned char>(list[0]))) {
    // A bare host name selects all its GPUs, which is no selection at all on one node.
    throw UsageError(flag + " '" + value + "' selects no GPU ids; write it as localhost:0,2");
  }
  std::vector<int> ids;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    ids.push_back(parse_count(flag + " GPU id", item, 0, 1023));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::vector<int> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    throw UsageError(flag + " '" + value + "' lists a GPU id twice");
  }
  return ids;
}

LaunchOptions parse_launch_args(const std::vector<std::string>& args) {
  LaunchOptions opts;
  bool gpus_given = false, procs_given = false;
  size_t i = 1;
  while (i < args.size()) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.rfind("--", 0) != 0) break;  // the program: it and everything after belong to it

    std::string flag = arg, value;
    bool has_inline_value = false;
    auto eq = arg.find('=');
    if (eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_inline_value = true;
    }
    flag = normalize_flag(flag);
    ++i;
    if (flag == "--help") {
      opts.help = true;
      return opts;
    }
    if (flag == "--no_ssh") {
      if (has_inline_value) throw UsageError("--no_ssh takes no value");
      opts.no_ssh = true;
      continue;
    }
    const std::string as_given = flag;
    for (const Alias& a : kAliases) {
      if (flag == a.name) flag = a.means;
    }
    bool known = std::any_of(std::begin(kValueFlags), std::end(kValueFlags),
                             [&](const char* f) { return flag == f; });
    if (!known) throw UsageError(unknown_option_message(arg.substr(0, eq), flag));
    if (!has_inline_value) {
      if (i >= args.size()) throw UsageError(flag + " needs a value");
      value = args[i++];
    }
    if (flag == "--num_gpus") {
      opts.num_gpus = parse_count(as_given, value, 1, 1024);
      gpus_given = true;
      // torchrun's flag means processes: GPU ranks where there are GPUs, CPU ranks elsewhere.
      opts.cpu_without_gpus = as_given == "--nproc_per_node";
    } else if (flag == "--num_procs") {
      opts.num_procs = parse_count(flag, value, 1, 4096);
      procs_given = true;
    } else if (flag == "--num_nodes") {
      opts.num_nodes = parse_count(as_given, value, 1, 100000);
    } else if (flag == "--master_addr") {
      if (value.empty()) throw UsageError("--master_addr is empty");
      opts.master_addr = value;
    } else if (flag == "--master_port") {
      opts.master_port = parse_count(flag, value, 1, 65535);
    } else if (flag == "--include") {
      if (value.empty()) throw UsageError("--include is empty");
      opts.include = value;
    } else if (flag == "--exclude") {
      if (value.empty()) throw UsageError("--exclude is empty");
      opts.exclude = value;
    } else if (flag == "--hostfile") {
      if (value.empty()) throw UsageError("--hostfile is empty");
      opts.hostfile = value;
    } else if (flag == "--ssh_port") {
      opts.ssh_port = parse_count(flag, value, 1, 65535);
    } else if (flag == "--launcher") {
      opts.launcher = parse_launcher(value);
      opts.launcher_given = true;
    } else if (flag == "--launcher_args") {
      opts.launcher_args = value;
    } else if (flag == "--node_rank") {
      opts.node_rank = parse_count(flag, value, 0, 100000);
    } else if (flag == "--max_restarts") {
      opts.max_restarts = parse_count(as_given, value, 0, 1000);
    } else if (flag == "--world_info") {
      opts.world_info = value;
    } else if (flag == "--grace_s") {
      char* end = nullptr;
      opts.grace_s = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(opts.grace_s >= 0)) {
        throw UsageError("--grace_s wants a number of seconds, got '" + value + "'");
      }
    }
  }

  if (i >= args.size()) throw UsageError("no program to run: zsrun [options] [--] program [args...]");
  opts.program = args[i];
  opts.program_args.assign(args.begin() + static_cast<long>(i) + 1, args.end());

  const bool hostfile = !opts.hostfile.empty();
  const bool slurm = opts.launcher_given && opts.launcher == NodeLauncher::slurm;
  if (gpus_given && procs_given) throw UsageError("--num_gpus and --num_procs exclude each other: pick one");
  if (!opts.include.empty() && !opts.exclude.empty()) {
    throw UsageError("--include and --exclude exclude each other: pick one");
  }
  if (procs_given) opts.kind = RankKind::cpu;
  if (opts.no_ssh) {
    if (!hostfile) throw UsageError("--no_ssh needs the job's --hostfile (the same on every node)");
    if (opts.node_rank < 0) throw UsageError("--no_ssh needs --node_rank: this node's place in the hostfile (0, 1, ...)");
    if (opts.launcher_given) throw UsageError("--no_ssh starts this node's ranks itself; it takes no --launcher");
    if (opts.max_restarts > 0) {
      throw UsageError("--max_restarts needs one zsrun that restarts every node: launch over ssh, or with "
                       "--launcher openmpi or slurm");
    }
  } else if (opts.node_rank >= 0 && opts.world_info.empty()) {
    throw UsageError("--node_rank goes with --no_ssh (each node's own zsrun); without it zsrun starts every node");
  }
  if (!hostfile && opts.world_info.empty()) {
    if (opts.num_nodes > 1 && !slurm) {
      throw UsageError("--num_nodes " + std::to_string(opts.num_nodes) + " needs a --hostfile listing the nodes (or "
                       "--launcher slurm inside an allocation)");
    }
    if (opts.launcher_given && opts.launcher == NodeLauncher::ssh) {
      throw UsageError("--launcher " + std::string("ssh needs a --hostfile listing the nodes"));
    }
    // One node: --include/--exclude name this machine's GPUs.
    if (!opts.include.empty()) opts.include_gpus = parse_gpu_selection("--include", opts.include);
    if (!opts.exclude.empty()) opts.exclude_gpus = parse_gpu_selection("--exclude", opts.exclude);
    if (procs_given && (!opts.include.empty() || !opts.exclude.empty())) {
      throw UsageError("--include/--exclude select GPUs; on one node they do not apply to CPU ranks (--num_procs)");
    }
    if (!opts.include_gpus.empty() && gpus_given && opts.num_gpus != static_cast<int>(opts.include_gpus.size())) {
      throw UsageError("--num_gpus " + std::to_string(opts.num_gpus) + " disagrees with --include, which selects " +
                       std::to_string(opts.include_gpus.size()) + " GPU(s)");
    }
  }
  if (slurm && (!opts.include.empty() || !opts.exclude.empty())) {
    throw UsageError("--launcher slurm runs on the allocation's nodes: choose them with sbatch/salloc, not "
                     "--include/--exclude");
  }
  return opts;
}

std::string launch_usage() {
  return R"(usage: zsrun [options] [--] program [args...]

Starts one rank of `program` per GPU (or per CPU process) on this machine or on the nodes of a
hostfile, with the environment every ZeroShard program reads: RANK, LOCAL_RANK, WORLD_SIZE,
LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT. Every output line carries its rank ("[rank 3] ...",
across nodes "[node2 rank 3] ..."). When one rank fails, zsrun stops every rank on every node and
exits with the code of the rank that failed first (128+N for a rank killed by signal N).

one node:
  --num_gpus N         GPU ranks: N processes, rank r uses cuda:r (default: every GPU found)
  --num_procs N        CPU ranks: N processes started through OpenMPI's mpirun (CPU collectives use MPI)
  --include H:I,J      use only these GPU ids, e.g. localhost:0,2 (sets CUDA_VISIBLE_DEVICES)
  --exclude H:I,J      use every GPU but these, e.g. localhost:1
  --nproc_per_node N   torchrun's name: --num_gpus N, or --num_procs N on a machine without GPUs
several nodes:
  --hostfile FILE      DeepSpeed's hostfile: lines "node1 slots=8" ('#' comments)
  --include SPEC       only these: "node1:0,2@node2" (slots 0 and 2 of node1, all of node2)
  --exclude SPEC       all but these: "node2:7@node3"
  --num_nodes N        the first N hosts (torchrun: --nnodes); --num_gpus/--num_procs N: N per node
  --launcher L         ssh (default; pdsh means the same): a node-local zsrun per node over ssh;
                       openmpi: one mpirun over the hosts (what CPU ranks always use);
                       slurm: srun inside an allocation (sbatch/salloc), no hostfile needed
  --launcher_args A    more arguments for ssh, mpirun or srun
  --ssh_port P         the nodes' ssh port (also ZS_SSH_ARGS: more ssh arguments, e.g. "-F cfg")
  --no_ssh             start only this node's ranks (run the same command on every node) ...
  --node_rank R        ... as node R of the hostfile
every launch:
  --master_addr ADDR   rendezvous address for the ranks (default 127.0.0.1; across nodes: the first host)
  --master_port PORT   rendezvous port (default 29500)
  --max_restarts N     restart the whole job up to N times after a failure (ZS_RESTART_COUNT tells
                       the program; train_gpt resumes from its newest checkpoint)
  --grace_s S          seconds between SIGTERM and SIGKILL when stopping ranks (default 5)
  --help               this text
Across nodes every node gets NCCL_*, ZS_*, UCX_*, OMPI_MCA_*, LD_PRELOAD and *SAN_OPTIONS of this
shell, the NVLS-off switches, and ~/.deepspeed_env then ./.deepspeed_env (NAME=VALUE lines;
DS_ENV_FILE names another file).
Everything after the program path (or after `--`) goes to the program unchanged.
)";
}

}  // namespace zs::launcher
