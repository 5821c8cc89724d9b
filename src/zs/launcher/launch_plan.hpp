// From options to processes. What zsrun starts, by the shape of the job:
//   local_ranks  one child per rank of this node (GPU ranks, or a node's ranks under a multi-node job)
//   mpirun       one child: OpenMPI's mpirun, on this machine or over a hostfile's hosts (CPU ranks,
//                whose collectives need one MPI world; any ranks with --launcher openmpi)
//   ssh_nodes    one child per node: ssh running a node-local zsrun with the job's layout
//   srun         one child: srun inside a SLURM allocation
#pragma once

#include <string>
#include <vector>

#include "zs/launcher/hostfile.hpp"
#include "zs/launcher/launch_options.hpp"
#include "zs/launcher/process_group_runner.hpp"

namespace zs::launcher {

enum class PlanShape { local_ranks, mpirun, ssh_nodes, srun };

struct LaunchPlan {
  PlanShape shape = PlanShape::local_ranks;
  RankKind kind = RankKind::gpu;
  int world_size = 0;
  std::vector<ChildSpec> children;
  // Output prefixes: on one node "[rank R]", across nodes "[host rank R]".
  std::vector<std::string> nodes;   // the job's node names, in node order (empty on one node)
  std::vector<int> rank_node;       // node index of each global rank (across nodes)
  int first_rank = 0;               // local_ranks: this node's first global rank
  int node = -1;                    // local_ranks of a multi-node job: this node's index
  bool agent = false;               // a node-local zsrun started over ssh: its stdin ends the job

  // "[rank 3] " or "[node2 rank 3] "
  std::string prefix(int global_rank) const;
  // "zsrun: " or "zsrun[node2]: " (a node-local zsrun of a multi-node job)
  std::string own_prefix() const;
};

// `base_env`: environ as a list; `cores`: the CPUs zsrun may use. Throws UsageError for a plan that
// cannot work (no GPUs found, program or mpirun missing, GPU ids out of range, bad hostfile).
LaunchPlan make_launch_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, int cores);

// GPUs on this machine, counted from the driver (/proc/driver/nvidia/gpus); 0 without a driver.
int count_machine_gpus();

// Full path of `program` (searched on PATH when it has no '/'); empty when not found/executable.
std::string find_executable(const std::string& program, const std::vector<std::string>& env);

// This zsrun's own path ("" when the running program is not zsrun, e.g. a test).
std::string self_executable();

// The value of `name` in `env` ("" when absent).
std::string env_value(const std::vector<std::string>& env, const std::string& name);

}  // namespace zs::launcher
