#include "zs/launcher/launch_plan.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "zs/launcher/carried_env.hpp"
#include "zs/launcher/node_plans.hpp"

namespace zs::launcher {
namespace {

std::string join_ints(const std::vector<int>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

// The ranks of one node, started by zsrun itself: one child each, with torchrun's variables.
LaunchPlan local_node_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, int cores,
                           const Resources& job, int node, bool multi_node) {
  const HostSlots& mine = job[static_cast<size_t>(node)];
  const int local_world = static_cast<int>(mine.slots.size());
  LaunchPlan plan;
  plan.kind = RankKind::gpu;
  plan.world_size = total_slots(job);
  plan.first_rank = first_rank_of(job, node);
  if (multi_node) {
    plan.node = node;
    for (const auto& h : job) plan.nodes.push_back(h.host);
    for (size_t n = 0; n < job.size(); ++n) plan.rank_node.insert(plan.rank_node.end(), job[n].slots.size(), int(n));
  }
  const std::string master = !opts.master_addr.empty() ? opts.master_addr : multi_node ? job[0].host : "127.0.0.1";
  EnvMap env = rank_environment(opts, base_env, master, cores, local_world);
  bool identity = true;
  for (int i = 0; i < local_world; ++i) identity &= mine.slots[static_cast<size_t>(i)] == i;
  if (!identity) env["CUDA_VISIBLE_DEVICES"] = join_ints(mine.slots);
  env["WORLD_SIZE"] = std::to_string(plan.world_size);
  env["LOCAL_WORLD_SIZE"] = std::to_string(local_world);
  env["GROUP_RANK"] = std::to_string(multi_node ? node : 0);
  for (int r = 0; r < local_world; ++r) {
    env["RANK"] = std::to_string(plan.first_rank + r);
    env["LOCAL_RANK"] = std::to_string(r);
    ChildSpec spec;
    spec.argv = {opts.program};
    spec.argv.insert(spec.argv.end(), opts.program_args.begin(), opts.program_args.end());
    spec.env = env_list(env);
    plan.children.push_back(std::move(spec));
  }
  return plan;
}

// GPU ids of one node without a hostfile: --num_gpus, --include and --exclude.
std::vector<int> this_machine_devices(const LaunchOptions& opts) {
  if (!opts.include_gpus.empty()) return opts.include_gpus;
  int total = opts.num_gpus > 0 ? opts.num_gpus : count_machine_gpus();
  if (total == 0) throw UsageError("no GPU found on this machine: pass --num_gpus N, or --num_procs N for CPU ranks");
  for (int d : opts.exclude_gpus) {
    if (d >= total) {
      throw UsageError("--exclude names GPU " + std::to_string(d) + " but there are " + std::to_string(total) +
                       " (ids 0.." + std::to_string(total - 1) + ")");
    }
  }
  std::vector<int> devices;
  for (int d = 0; d < total; ++d) {
    if (std::find(opts.exclude_gpus.begin(), opts.exclude_gpus.end(), d) == opts.exclude_gpus.end()) devices.push_back(d);
  }
  if (devices.empty()) throw UsageError("--exclude leaves no GPU to run on");
  const int machine_gpus = count_machine_gpus();
  if ((!opts.include_gpus.empty() || !opts.exclude_gpus.empty()) && machine_gpus > 0) {
    for (int d : devices) {
      if (d >= machine_gpus) {
        throw UsageError("GPU id " + std::to_string(d) + " does not exist: this machine has " +
                         std::to_string(machine_gpus) + " GPU(s)");
      }
    }
  }
  return devices;
}

}  // namespace

std::string LaunchPlan::prefix(int global_rank) const {
  if (nodes.empty()) return "[rank " + std::to_string(global_rank) + "] ";
  const int n = global_rank >= 0 && global_rank < static_cast<int>(rank_node.size()) ? rank_node[global_rank] : -1;
  return "[" + (n >= 0 ? nodes[static_cast<size_t>(n)] : std::string("?")) + " rank " + std::to_string(global_rank) +
         "] ";
}

std::string LaunchPlan::own_prefix() const {
  return node >= 0 ? "zsrun[" + nodes[static_cast<size_t>(node)] + "]: " : "zsrun: ";
}

int count_machine_gpus() {
  DIR* dir = opendir("/proc/driver/nvidia/gpus");
  if (!dir) return 0;
  int n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

std::string find_executable(const std::string& program, const std::vector<std::string>& env) {
  auto is_exec = [](const std::string& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) return is_exec(program) ? program : "";
  std::string path = env_value(env, "PATH");
  if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (is_exec(candidate)) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return "";
}

std::string self_executable() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  buf[n] = 0;
  const std::string path(buf);
  // Only zsrun itself knows --rank-shim (a test linking the launcher library is not zsrun).
  return path.size() >= 6 && path.compare(path.size() - 6, 6, "/zsrun") == 0 ? path : "";
}

std::string env_value(const std::vector<std::string>& env, const std::string& name) {
  for (const auto& kv : env) {
    if (kv.size() > name.size() && kv[name.size()] == '=' && kv.compare(0, name.size(), name) == 0) {
      return kv.substr(name.size() + 1);
    }
  }
  return "";
}

LaunchPlan make_launch_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, int cores) {
  if (opts.world_info.empty() && find_executable(opts.program, base_env).empty()) {
    throw UsageError("cannot run '" + opts.program + "': no such executable file" +
                     (opts.program.find('/') == std::string::npos ? " on PATH" : ""));
  }
  // A node of a multi-node job: started over ssh with the job's layout, or by hand with --no_ssh.
  if (!opts.world_info.empty() || opts.no_ssh) {
    const Resources job = opts.no_ssh ? job_resources(opts) : decode_resources(opts.world_info);
    if (opts.no_ssh && opts.kind == RankKind::cpu) {
      throw UsageError("CPU ranks across nodes form one MPI world, which one mpirun starts: drop --no_ssh and "
                       "--node_rank (zsrun then runs mpirun over the hostfile's hosts)");
    }
    if (opts.node_rank < 0 || opts.node_rank >= static_cast<int>(job.size())) {
      throw UsageError("--node_rank " + std::to_string(opts.node_rank) + " but the job has " +
                       std::to_string(job.size()) + " node(s) (0.." + std::to_string(job.size() - 1) + ")");
    }
    LaunchPlan plan = local_node_plan(opts, base_env, cores, job, opts.node_rank, true);
    plan.agent = !opts.world_info.empty();
    return plan;
  }
  if (opts.launcher_given && opts.launcher == NodeLauncher::slurm) return srun_plan(opts, base_env, cores);

  const bool via_mpirun = opts.kind == RankKind::cpu || (opts.launcher_given && opts.launcher == NodeLauncher::openmpi);
  if (!opts.hostfile.empty()) {
    const Resources job = job_resources(opts);
    const bool only_here = job.size() == 1 && is_this_machine(job[0].host);
    if (via_mpirun) return mpirun_plan(opts, base_env, cores, only_here ? Resources{} : job, total_slots(job));
    if (only_here) return local_node_plan(opts, base_env, cores, job, 0, false);
    return ssh_plan(opts, base_env, job);
  }
  if (via_mpirun) {
    int n = opts.kind == RankKind::cpu ? opts.num_procs : static_cast<int>(this_machine_devices(opts).size());
    return mpirun_plan(opts, base_env, cores, {}, n);
  }
  if (opts.cpu_without_gpus && count_machine_gpus() == 0) {
    return mpirun_plan(opts, base_env, cores, {}, opts.num_gpus);  // torchrun's --nproc_per_node on a CPU machine
  }
  return local_node_plan(opts, base_env, cores, {{"localhost", this_machine_devices(opts)}}, 0, false);
}

}  // namespace zs::launcher
