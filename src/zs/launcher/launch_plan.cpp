#include "zs/launcher/launch_plan.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

namespace zs::launcher {
namespace {

// The environment as an ordered map, so values can be replaced and removed by name.
using EnvMap = std::map<std::string, std::string>;

EnvMap to_map(const std::vector<std::string>& env) {
  EnvMap m;
  for (const auto& kv : env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    m.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return m;
}

std::vector<std::string> to_list(const EnvMap& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k + "=" + v);
  return out;
}

void set_default(EnvMap& env, const std::string& name, const std::string& value) {
  if (!env.count(name)) env[name] = value;
}

std::string join_ints(const std::vector<int>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

// Settings every rank gets: the rendezvous point, the multicast switches the lent GPU machines
// need off, and a fair share of the cores for OpenMP (CPU optimizer threads, intra-op work).
EnvMap common_env(const LaunchOptions& opts, const std::vector<std::string>& base_env, int cores, int world) {
  EnvMap env = to_map(base_env);
  // Variables from an enclosing launcher would misplace the ranks.
  for (const char* name : {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK"}) env.erase(name);
  env["MASTER_ADDR"] = opts.master_addr;
  env["MASTER_PORT"] = std::to_string(opts.master_port);
  set_default(env, "NCCL_NVLS_ENABLE", "0");
  set_default(env, "TORCH_SYMM_MEM_DISABLE_MULTICAST", "1");
  set_default(env, "NVSHMEM_DISABLE_NVLS", "1");
  set_default(env, "OMP_NUM_THREADS", std::to_string(std::max(1, cores / world)));
  return env;
}

}  // namespace

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
  EnvMap m = to_map(env);
  std::string path = m.count("PATH") ? m["PATH"] : "/usr/local/bin:/usr/bin:/bin";
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

// This program's own path, for the rank shim ("" if unknown: ranks then run directly).
static std::string self_executable() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  buf[n] = 0;
  const std::string path(buf);
  // Only zsrun itself knows --rank-shim (a test linking the launcher library is not zsrun).
  return path.size() >= 6 && path.compare(path.size() - 6, 6, "/zsrun") == 0 ? path : "";
}

LaunchPlan make_launch_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, int cores) {
  if (find_executable(opts.program, base_env).empty()) {
    throw UsageError("cannot run '" + opts.program + "': no such executable file" +
                     (opts.program.find('/') == std::string::npos ? " on PATH" : ""));
  }
  LaunchPlan plan;
  plan.kind = opts.kind;
  int num_procs = opts.num_procs;
  if (opts.cpu_without_gpus && count_machine_gpus() == 0) {
    plan.kind = RankKind::cpu;
    num_procs = opts.num_gpus;
  }

  if (plan.kind == RankKind::cpu) {
    std::string mpirun = find_executable("mpirun", base_env);
    if (mpirun.empty()) {
      throw UsageError("--num_procs starts CPU ranks through OpenMPI's mpirun, which is not on PATH "
                       "(Debian/Ubuntu: apt install openmpi-bin)");
    }
    plan.world_size = num_procs;
    EnvMap env = common_env(opts, base_env, cores, plan.world_size);
    if (geteuid() == 0) {
      env["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
      env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
    }
    // Containers forbid cross-memory attach; shared-memory copies still work without it.
    set_default(env, "OMPI_MCA_btl_vader_single_copy_mechanism", "none");
    ChildSpec spec;
    spec.argv = {mpirun, "-np", std::to_string(num_procs), "--oversubscribe", "--bind-to", "none",
                 "--tag-output", "-x", "MASTER_ADDR", "-x", "MASTER_PORT", "-x", "OMP_NUM_THREADS",
                 "-x", "NCCL_NVLS_ENABLE", "-x", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "-x", "NVSHMEM_DISABLE_NVLS"};
    // Each rank runs under `zsrun --rank-shim`, which names the rank when it fails (see rank_shim.hpp).
    const std::string self = self_executable();
    if (!self.empty()) spec.argv.insert(spec.argv.end(), {self, "--rank-shim", "--"});
    spec.argv.push_back(opts.program);
    spec.argv.insert(spec.argv.end(), opts.program_args.begin(), opts.program_args.end());
    spec.env = to_list(env);
    // One line of mpirun's output holds every rank's unfinished pieces (mpirun_output.hpp).
    spec.max_line = size_t(1) << 30;
    plan.children.push_back(std::move(spec));
    return plan;
  }

  // GPU ranks: which device ids, then one child each.
  std::vector<int> devices;
  if (!opts.include_gpus.empty()) {
    devices = opts.include_gpus;
  } else {
    int total = opts.num_gpus > 0 ? opts.num_gpus : count_machine_gpus();
    if (total == 0) {
      throw UsageError("no GPU found on this machine: pass --num_gpus N, or --num_procs N for CPU ranks");
    }
    for (int d = 0; d < total; ++d) {
      if (std::find(opts.exclude_gpus.begin(), opts.exclude_gpus.end(), d) == opts.exclude_gpus.end()) {
        devices.push_back(d);
      }
    }
    for (int d : opts.exclude_gpus) {
      if (d >= total) {
        throw UsageError("--exclude names GPU " + std::to_string(d) + " but there are " + std::to_string(total) +
                         " (ids 0.." + std::to_string(total - 1) + ")");
      }
    }
    if (devices.empty()) throw UsageError("--exclude leaves no GPU to run on");
  }
  bool select_devices = !opts.include_gpus.empty() || !opts.exclude_gpus.empty();
  int machine_gpus = count_machine_gpus();
  if (select_devices && machine_gpus > 0) {
    for (int d : devices) {
      if (d >= machine_gpus) {
        throw UsageError("GPU id " + std::to_string(d) + " does not exist: this machine has " +
                         std::to_string(machine_gpus) + " GPU(s)");
      }
    }
  }

  plan.world_size = static_cast<int>(devices.size());
  EnvMap env = common_env(opts, base_env, cores, plan.world_size);
  if (select_devices) env["CUDA_VISIBLE_DEVICES"] = join_ints(devices);
  env["WORLD_SIZE"] = std::to_string(plan.world_size);
  env["LOCAL_WORLD_SIZE"] = std::to_string(plan.world_size);
  for (int r = 0; r < plan.world_size; ++r) {
    env["RANK"] = std::to_string(r);
    env["LOCAL_RANK"] = std::to_string(r);
    ChildSpec spec;
    spec.argv = {opts.program};
    spec.argv.insert(spec.argv.end(), opts.program_args.begin(), opts.program_args.end());
    spec.env = to_list(env);
    plan.children.push_back(std::move(spec));
  }
  return plan;
}

}  // namespace zs::launcher
