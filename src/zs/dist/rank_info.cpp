// detect_rank_info(): the rank's place in the job from whichever launcher started it.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "zs/dist/world.hpp"

namespace zs {
namespace {

std::optional<std::string> env_value(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

int parse_env_int(const char* name, const std::string& value) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(value.c_str(), &end, 10);
  if (end == value.c_str() || *end != '\0' || errno != 0 || v < 0 || v > 1000000000) {
    throw std::runtime_error(std::string("environment variable ") + name + "='" + value +
                             "' is not a non-negative whole number");
  }
  return static_cast<int>(v);
}

std::optional<int> env_int(const char* name) {
  auto v = env_value(name);
  if (!v) return std::nullopt;
  return parse_env_int(name, *v);
}

// SLURM writes tasks per node as "4", "4(x2)" or "4(x2),3": the first count is this layout's.
std::optional<int> leading_int(const char* name) {
  auto v = env_value(name);
  if (!v) return std::nullopt;
  size_t n = 0;
  while (n < v->size() && std::isdigit(static_cast<unsigned char>((*v)[n]))) ++n;
  if (n == 0) return std::nullopt;
  return parse_env_int(name, v->substr(0, n));
}

// First host of a SLURM node list: "node[01-04,07],gpu5" -> "node01"; "a,b" -> "a".
std::string first_slurm_host(const std::string& list) {
  size_t bracket = list.find('[');
  size_t comma = list.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) {
    return list.substr(0, comma);
  }
  std::string prefix = list.substr(0, bracket);
  size_t end = list.find_first_of("-,]", bracket + 1);
  return prefix + list.substr(bracket + 1, end - bracket - 1);
}

// What an MPI launcher sets: OpenMPI's mpirun, or MPICH / Intel MPI (hydra).
struct MpiVariables {
  const char *rank, *size, *local_rank, *local_size;
};

const MpiVariables* mpi_variables() {
  static const MpiVariables kinds[] = {
      {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"},
      {"PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
  };
  for (const auto& k : kinds)
    if (env_value(k.rank)) return &k;
  return nullptr;
}

}  // namespace

const char* launcher_name(Launcher l) {
  switch (l) {
    case Launcher::single: return "single process";
    case Launcher::env: return "env (zsrun/torchrun)";
    case Launcher::mpi: return "mpirun";
    case Launcher::slurm: return "srun";
  }
  return "?";
}

RankInfo detect_rank_info() {
  RankInfo info;
  const char* rank_var = nullptr;
  const char* size_var = nullptr;

  if (env_value("RANK") || env_value("WORLD_SIZE")) {
    // Explicit variables first: zsrun, torchrun, or a person who set them by hand.
    if (!env_value("RANK") || !env_value("WORLD_SIZE")) {
      throw std::runtime_error("RANK and WORLD_SIZE must be set together (found only " +
                               std::string(env_value("RANK") ? "RANK" : "WORLD_SIZE") + ")");
    }
    info.launcher = Launcher::env;
    rank_var = "RANK";
    size_var = "WORLD_SIZE";
    info.rank = *env_int("RANK");
    info.world_size = *env_int("WORLD_SIZE");
    info.local_world_size = env_int("LOCAL_WORLD_SIZE").value_or(info.world_size);
    info.local_rank = env_int("LOCAL_RANK").value_or(info.rank % std::max(1, info.local_world_size));
    // zsrun's CPU ranks have both: MPI started them, and its world is the one they talk over.
    const MpiVariables* mpi = mpi_variables();
    if (mpi && env_int(mpi->rank) == info.rank && env_int(mpi->size) == info.world_size) info.launcher = Launcher::mpi;
  } else if (const MpiVariables* mpi = mpi_variables()) {
    info.launcher = Launcher::mpi;
    rank_var = mpi->rank;
    size_var = mpi->size;
    info.rank = *env_int(mpi->rank);
    auto size = env_int(mpi->size);
    if (!size) throw std::runtime_error(std::string(mpi->rank) + " is set but " + mpi->size + " is not");
    info.world_size = *size;
    info.local_rank = env_int(mpi->local_rank).value_or(info.rank);
    info.local_world_size = env_int(mpi->local_size).value_or(info.world_size);
  } else if (env_value("SLURM_PROCID") && (env_value("SLURM_STEP_NUM_TASKS") || env_value("SLURM_NTASKS"))) {
    // srun sets SLURM_STEP_NUM_TASKS for the step; SLURM_NTASKS is the allocation's.
    info.launcher = Launcher::slurm;
    rank_var = "SLURM_PROCID";
    size_var = env_value("SLURM_STEP_NUM_TASKS") ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS";
    info.rank = *env_int("SLURM_PROCID");
    info.world_size = *env_int(size_var);
    info.local_rank = env_int("SLURM_LOCALID").value_or(0);
    auto per_node = leading_int("SLURM_STEP_TASKS_PER_NODE");
    if (!per_node) per_node = leading_int("SLURM_NTASKS_PER_NODE");
    if (!per_node) per_node = leading_int("SLURM_TASKS_PER_NODE");
    info.local_world_size = per_node.value_or(info.world_size);
    if (!env_value("MASTER_ADDR")) {
      auto nodes = env_value("SLURM_STEP_NODELIST");
      if (!nodes) nodes = env_value("SLURM_JOB_NODELIST");
      if (nodes) info.master_addr = first_slurm_host(*nodes);
    }
  }

  if (auto restarts = env_int("ZS_RESTART_COUNT")) info.restart_count = *restarts;
  else if (auto elastic = env_int("TORCHELASTIC_RESTART_COUNT")) info.restart_count = *elastic;
  if (auto addr = env_value("MASTER_ADDR")) info.master_addr = *addr;
  if (auto port = env_int("MASTER_PORT")) {
    if (*port < 1 || *port > 65535) {
      throw std::runtime_error("MASTER_PORT=" + std::to_string(*port) + " is not a TCP port (1..65535)");
    }
    info.master_port = *port;
  }

  if (info.launcher != Launcher::single) {
    if (info.world_size < 1) {
      throw std::runtime_error(std::string(size_var) + "=" + std::to_string(info.world_size) + ": a job needs at least one rank");
    }
    if (info.rank >= info.world_size) {
      throw std::runtime_error(std::string(rank_var) + "=" + std::to_string(info.rank) + " is out of range for " +
                               size_var + "=" + std::to_string(info.world_size) + " (ranks are 0.." +
                               std::to_string(info.world_size - 1) + ")");
    }
    if (info.local_world_size < 1 || info.local_world_size > info.world_size) {
      throw std::runtime_error("local world size " + std::to_string(info.local_world_size) +
                               " does not fit world size " + std::to_string(info.world_size));
    }
    if (info.local_rank >= info.local_world_size) {
      throw std::runtime_error("local rank " + std::to_string(info.local_rank) + " is out of range for local world size " +
                               std::to_string(info.local_world_size));
    }
  }
  return info;
}

}  // namespace zs
