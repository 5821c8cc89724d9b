// From options to processes: the environment of every rank (GPU ranks, started by zsrun itself)
// or the mpirun command line (CPU ranks, which need OpenMPI's runtime for their collectives).
#pragma once

#include <string>
#include <vector>

#include "zs/launcher/launch_options.hpp"
#include "zs/launcher/process_group_runner.hpp"

namespace zs::launcher {

// What zsrun starts. For GPU ranks: one child per rank. For CPU ranks: one child, mpirun.
struct LaunchPlan {
  RankKind kind = RankKind::gpu;
  int world_size = 0;
  std::vector<ChildSpec> children;
};

// `environ` as a list; `cores`: the CPUs zsrun may use. Throws UsageError for a plan that cannot
// work (no GPUs found, program or mpirun missing, GPU ids out of range).
LaunchPlan make_launch_plan(const LaunchOptions& opts, const std::vector<std::string>& base_env, int cores);

// GPUs on this machine, counted from the driver (/proc/driver/nvidia/gpus); 0 without a driver.
int count_machine_gpus();

// Full path of `program` (searched on PATH when it has no '/'); empty when not found/executable.
std::string find_executable(const std::string& program, const std::vector<std::string>& env);

}  // namespace zs::launcher
