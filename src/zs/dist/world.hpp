// Who am I among the ranks, and how do I talk to them.
//
// init_distributed() reads the launcher's environment: torchrun/zsrun (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), mpirun (OMPI_COMM_WORLD_*, PMI_*) or
// SLURM (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID), picks the device (cuda:LOCAL_RANK when a GPU
// is there, else CPU) and builds the communicator for it: NCCL for CUDA, MPI for CPU.
#pragma once

#include <memory>
#include <string>

#include <c10/core/Device.h>

namespace zs {

class Communicator;
class Watchdog;

enum class Launcher { single, env, mpi, slurm };
const char* launcher_name(Launcher l);

// The rank's place in the job, as read from the environment (no communication).
struct RankInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  Launcher launcher = Launcher::single;
  int restart_count = 0;       // which restart of the job this is (ZS_RESTART_COUNT from zsrun
                               // --max_restarts, TORCHELASTIC_RESTART_COUNT from torchrun)
};

// Reads RankInfo from the environment. Throws std::runtime_error on inconsistent variables
// (RANK >= WORLD_SIZE, a non-number, ...).
RankInfo detect_rank_info();

enum class DevicePreference { automatic, cpu, cuda };

struct World {
  RankInfo info;
  c10::Device device = c10::Device(c10::kCPU);
  std::shared_ptr<Communicator> comm;     // collectives on tensors of `device`
  std::shared_ptr<Watchdog> watchdog;     // hang detection (watchdog.hpp); null for one rank

  int rank() const { return info.rank; }
  int size() const { return info.world_size; }
  bool is_main() const { return info.rank == 0; }
};

// Sets up this rank: environment, device, communicator, hang watchdog. Collective: every rank calls it.
// `timeout_s` bounds every collective (default: ZS_COMM_TIMEOUT seconds from the environment,
// else 600); a collective that outlives it ends the process with a message naming it. The watchdog
// ends the job within ZS_HANG_TIMEOUT seconds (default 40) of a rank hanging (watchdog.hpp).
World init_distributed(DevicePreference device = DevicePreference::automatic, double timeout_s = 0);

}  // namespace zs
