// The plans that start ranks through another program: mpirun (on this machine or over a hostfile's
// hosts), ssh (a node-local zsrun per node) and srun (inside a SLURM allocation).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "zs/launcher/launch_plan.hpp"

namespace zs::launcher {

// An environment as an ordered map, so values can be replaced and removed by name.
using EnvMap = std::map<std::string, std::string>;
EnvMap env_map(const std::vector<std::string>& env);
std::vector<std::string> env_list(const EnvMap& env);

// What every rank gets on top of `base_env`: the rendezvous point, the multicast switches the lent
// GPU machines need off, a fair share of the cores for OpenMP; an enclosing launcher's rank
// variables removed.
EnvMap rank_environment(const LaunchOptions& opts, const std::vector<std::string>& base_env, const std::string& master,
                        int cores, int local_world);

// The hostfile's hosts and slots after --include/--exclude, --num_nodes and --num_gpus/--num_procs.
Resources job_resources(const LaunchOptions& opts);

// mpirun with `hosts` (empty: this machine, `world` ranks), each rank under the rank shim.
LaunchPlan mpirun_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, int cores,
                       const Resources& hosts, int world);

// One ssh per node of `job`, each running zsrun --world_info ... --node_rank i.
LaunchPlan ssh_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, const Resources& job);

// srun over the allocation's nodes (SLURM_JOB_NODELIST), each rank under the rank shim.
LaunchPlan srun_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, int cores);

// Splits extra arguments given as one string ("-F cfg -o X=y") at spaces.
std::vector<std::string> split_words(const std::string& text);

}  // namespace zs::launcher
