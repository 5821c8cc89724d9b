#include "zs/launcher/node_plans.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "zs/launcher/carried_env.hpp"

namespace zs::launcher {
namespace {

void set_default(EnvMap& env, const std::string& name, const std::string& value) {
  if (!env.count(name)) env[name] = value;
}

std::string working_directory() {
  char buf[4096];
  return getcwd(buf, sizeof(buf)) ? std::string(buf) : ".";
}

// The output of a short command ("" when it fails).
std::string command_output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  pclose(pipe);
  return out;
}

// ZS_SSH_ARGS, --ssh_port: how this machine reaches the nodes over ssh.
std::vector<std::string> ssh_options(const LaunchOptions& opts, const std::vector<std::string>& base_env) {
  std::vector<std::string> args = split_words(env_value(base_env, "ZS_SSH_ARGS"));
  if (opts.ssh_port > 0) args.insert(args.end(), {"-p", std::to_string(opts.ssh_port)});
  return args;
}

// The rank program after the rank shim (zsrun --rank-shim -- program args).
void add_shimmed_program(std::vector<std::string>& argv, const LaunchOptions& opts) {
  const std::string self = self_executable();
  if (!self.empty()) argv.insert(argv.end(), {self, "--rank-shim", "--"});
  argv.push_back(opts.program);
  argv.insert(argv.end(), opts.program_args.begin(), opts.program_args.end());
}

}  // namespace

EnvMap env_map(const std::vector<std::string>& env) {
  EnvMap m;
  for (const auto& kv : env) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) m.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return m;
}

std::vector<std::string> env_list(const EnvMap& env) {
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

EnvMap rank_environment(const LaunchOptions& opts, const std::vector<std::string>& base_env, const std::string& master,
                        int cores, int local_world) {
  EnvMap env = env_map(base_env);
  // Variables from an enclosing launcher would misplace the ranks.
  for (const char* name : {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK"}) env.erase(name);
  env["MASTER_ADDR"] = master;
  env["MASTER_PORT"] = std::to_string(opts.master_port);
  set_default(env, "NCCL_NVLS_ENABLE", "0");
  set_default(env, "TORCH_SYMM_MEM_DISABLE_MULTICAST", "1");
  set_default(env, "NVSHMEM_DISABLE_NVLS", "1");
  set_default(env, "OMP_NUM_THREADS", std::to_string(std::max(1, cores / std::max(1, local_world))));
  return env;
}

Resources job_resources(const LaunchOptions& opts) {
  Resources all = read_hostfile(opts.hostfile);
  Resources chosen = filter_resources(all, opts.include, opts.exclude);
  const int per_node = opts.kind == RankKind::cpu ? opts.num_procs : opts.num_gpus;
  return limit_resources(chosen, opts.num_nodes, per_node, opts.kind == RankKind::cpu ? "--num_procs" : "--num_gpus");
}

LaunchPlan mpirun_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, int cores,
                       const Resources& hosts, int world) {
  const std::string mpirun = find_executable("mpirun", base_env);
  if (mpirun.empty()) {
    throw UsageError("CPU ranks start through OpenMPI's mpirun, which is not on PATH (Debian/Ubuntu: apt install "
                     "openmpi-bin)");
  }
  LaunchPlan plan;
  plan.shape = PlanShape::mpirun;
  plan.kind = opts.kind;
  plan.world_size = world;
  const bool multi = !hosts.empty();
  const std::string master = !opts.master_addr.empty() ? opts.master_addr : multi ? hosts[0].host : "127.0.0.1";
  EnvMap env = rank_environment(opts, base_env, master, cores, multi ? static_cast<int>(hosts[0].slots.size()) : world);
  if (geteuid() == 0) {
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
  }
  // Containers forbid cross-memory attach; shared-memory copies still work without it.
  set_default(env, "OMPI_MCA_btl_vader_single_copy_mechanism", "none");
  ChildSpec spec;
  spec.argv = {mpirun, "-np", std::to_string(world), "--bind-to", "none", "--tag-output"};
  std::vector<std::string> exported = {"MASTER_ADDR", "MASTER_PORT", "NCCL_NVLS_ENABLE",
                                       "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS"};
  if (multi) {
    std::string host_list;
    for (const auto& h : hosts) host_list += (host_list.empty() ? "" : ",") + h.host + ":" + std::to_string(h.slots.size());
    spec.argv.insert(spec.argv.end(), {"--host", host_list, "--map-by", "slot"});
    const std::vector<std::string> ssh = ssh_options(opts, base_env);
    std::string rsh_args;
    for (const auto& a : ssh) rsh_args += (rsh_args.empty() ? "" : " ") + a;
    if (!rsh_args.empty()) spec.argv.insert(spec.argv.end(), {"--mca", "plm_rsh_args", rsh_args});
    // Every node gets what a multi-node launch carries (the rank shim sets OMP_NUM_THREADS per node).
    for (const auto& [name, value] : carried_environment(base_env, env_value(base_env, "HOME"), working_directory())) {
      env[name] = value;
      exported.push_back(name);
    }
    for (const auto& h : hosts) plan.nodes.push_back(h.host);
    for (size_t n = 0; n < hosts.size(); ++n) plan.rank_node.insert(plan.rank_node.end(), hosts[n].slots.size(), int(n));
    env.erase("OMP_NUM_THREADS");
    if (!env_value(base_env, "OMP_NUM_THREADS").empty()) {
      env["OMP_NUM_THREADS"] = env_value(base_env, "OMP_NUM_THREADS");
      exported.push_back("OMP_NUM_THREADS");
    }
  } else {
    spec.argv.push_back("--oversubscribe");
    exported.push_back("OMP_NUM_THREADS");
  }
  if (!env_value(base_env, "ZS_RESTART_COUNT").empty()) exported.push_back("ZS_RESTART_COUNT");
  std::sort(exported.begin(), exported.end());
  exported.erase(std::unique(exported.begin(), exported.end()), exported.end());
  for (const auto& name : exported) spec.argv.insert(spec.argv.end(), {"-x", name});
  for (const auto& a : split_words(opts.launcher_args)) spec.argv.push_back(a);
  add_shimmed_program(spec.argv, opts);
  spec.env = env_list(env);
  // One line of mpirun's output holds every rank's unfinished pieces (mpirun_output.hpp).
  spec.max_line = size_t(1) << 30;
  plan.children.push_back(std::move(spec));
  return plan;
}

LaunchPlan ssh_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, const Resources& job) {
  const std::string self = self_executable();
  if (self.empty()) throw UsageError("a launch over ssh needs zsrun's own path (/proc/self/exe), which is unknown");
  const std::string ssh = find_executable("ssh", base_env);
  if (ssh.empty()) throw UsageError("a launch over ssh needs ssh, which is not on PATH (apt install openssh-client)");
  LaunchPlan plan;
  plan.shape = PlanShape::ssh_nodes;
  plan.kind = opts.kind;
  plan.world_size = total_slots(job);
  for (const auto& h : job) plan.nodes.push_back(h.host);
  for (size_t n = 0; n < job.size(); ++n) plan.rank_node.insert(plan.rank_node.end(), job[n].slots.size(), int(n));
  const std::string cwd = working_directory();
  const std::string master = !opts.master_addr.empty() ? opts.master_addr : job[0].host;
  std::string exports;
  for (const auto& [name, value] : carried_environment(base_env, env_value(base_env, "HOME"), cwd)) {
    exports += " " + shell_quote(name + "=" + value);
  }
  std::string program = shell_quote(opts.program);
  for (const auto& a : opts.program_args) program += " " + shell_quote(a);
  for (size_t n = 0; n < job.size(); ++n) {
    std::ostringstream remote;
    remote << "cd " << shell_quote(cwd) << " && exec env" << exports << " " << shell_quote(self) << " --world_info "
           << shell_quote(encode_resources(job)) << " --node_rank " << n << " --master_addr " << shell_quote(master)
           << " --master_port " << opts.master_port << " --grace_s " << opts.grace_s << " -- " << program;
    ChildSpec spec;
    spec.argv = {ssh};
    for (const auto& a : ssh_options(opts, base_env)) spec.argv.push_back(a);
    // No password prompt that would hang the job; a node that stops answering ends it within 15 s.
    spec.argv.insert(spec.argv.end(), {"-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"});
    for (const auto& a : split_words(opts.launcher_args)) spec.argv.push_back(a);
    spec.argv.push_back(job[n].host);
    spec.argv.push_back(remote.str());
    spec.env = base_env;
    spec.stop_by_stdin = true;  // the remote zsrun stops its ranks when its stdin ends
    plan.children.push_back(std::move(spec));
  }
  return plan;
}

LaunchPlan srun_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, int cores) {
  const std::string srun = find_executable("srun", base_env);
  if (srun.empty()) throw UsageError("--launcher slurm needs srun, which is not on PATH");
  if (env_value(base_env, "SLURM_JOB_ID").empty()) {
    throw UsageError("--launcher slurm runs inside a SLURM allocation: start zsrun from an sbatch script or salloc");
  }
  const std::string node_list = env_value(base_env, "SLURM_JOB_NODELIST");
  std::vector<std::string> hosts = split_words(command_output("scontrol show hostnames " + shell_quote(node_list) + " 2>/dev/null"));
  if (hosts.empty()) throw UsageError("cannot read the allocation's nodes (scontrol show hostnames " + node_list + ")");
  const int nodes = opts.num_nodes > 0 ? opts.num_nodes : static_cast<int>(hosts.size());
  if (nodes > static_cast<int>(hosts.size())) {
    throw UsageError("--num_nodes " + std::to_string(nodes) + " but the allocation has " + std::to_string(hosts.size()) +
                     " node(s)");
  }
  int per_node = opts.kind == RankKind::cpu ? opts.num_procs : opts.num_gpus;
  if (per_node <= 0 && opts.kind == RankKind::gpu) per_node = count_machine_gpus();
  if (per_node <= 0) throw UsageError("--launcher slurm: say how many ranks per node (--num_gpus N or --num_procs N)");
  LaunchPlan plan;
  plan.shape = PlanShape::srun;
  plan.kind = opts.kind;
  plan.world_size = nodes * per_node;
  hosts.resize(static_cast<size_t>(nodes));
  plan.nodes = hosts;
  for (int r = 0; r < plan.world_size; ++r) plan.rank_node.push_back(r / per_node);
  const std::string master = !opts.master_addr.empty() ? opts.master_addr : hosts[0];
  EnvMap env = rank_environment(opts, base_env, master, cores, per_node);
  ChildSpec spec;
  spec.argv = {srun, "--nodes=" + std::to_string(nodes), "--ntasks=" + std::to_string(plan.world_size),
               "--ntasks-per-node=" + std::to_string(per_node), "--kill-on-bad-exit=1", "--label", "--export=ALL"};
  if (opts.kind == RankKind::cpu) {
    // CPU ranks need one MPI world: srun makes it through its PMIx plugin.
    if (command_output(shell_quote(srun) + " --mpi=list 2>&1").find("pmix") == std::string::npos) {
      throw UsageError("this SLURM has no PMIx plugin (srun --mpi=list), which CPU ranks need: run mpirun inside the "
                       "allocation instead (zsrun --launcher openmpi --hostfile ...)");
    }
    spec.argv.push_back("--mpi=pmix");
  }
  for (const auto& a : split_words(opts.launcher_args)) spec.argv.push_back(a);
  add_shimmed_program(spec.argv, opts);
  spec.env = env_list(env);
  plan.children.push_back(std::move(spec));
  return plan;
}

}  // namespace zs::launcher
