// init_distributed(): environment -> device -> communicator.
#include <stdexcept>
#include <string>

#include <cstdio>
#include <cstdlib>

#include "zs/dist/collective_checks.hpp"
#include "zs/dist/job_store.hpp"
#include "zs/dist/mpi_communicator.hpp"
#include "zs/dist/self_communicator.hpp"
#include "zs/dist/watchdog.hpp"
#include "zs/dist/world.hpp"
#ifdef ZS_WITH_CUDA
#include "zs/dist/nccl_communicator.hpp"
#endif

namespace zs {
namespace {

// Ranks that only the environment describes (RANK/WORLD_SIZE without MPI: zsrun --num_gpus,
// torchrun) can only talk over NCCL, so with no GPU they are told so here rather than by MPI.
std::runtime_error no_gpu_for_env_ranks(const RankInfo& info, const std::string& why) {
  return std::runtime_error("rank " + std::to_string(info.rank) + " of " + std::to_string(info.world_size) +
                            " was started as a GPU rank (RANK/WORLD_SIZE from zsrun --num_gpus or torchrun, no MPI), "
                            "but " + why + ". On a machine without GPUs start CPU ranks with `zsrun --num_procs " +
                            std::to_string(info.world_size) + "` (or mpirun)");
}

c10::Device choose_device(const RankInfo& info, DevicePreference pref) {
  if (pref == DevicePreference::cpu) return c10::Device(c10::kCPU);
  const bool env_ranks = pref == DevicePreference::automatic && info.launcher == Launcher::env && info.world_size > 1;
#ifdef ZS_WITH_CUDA
  int gpus = cuda_device_count();
  if (gpus > 0) {
    if (info.local_rank >= gpus) {
      throw std::runtime_error("LOCAL_RANK=" + std::to_string(info.local_rank) + " but this process sees only " +
                               std::to_string(gpus) + " CUDA device(s): start at most one rank per GPU");
    }
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(info.local_rank));
  }
  if (pref == DevicePreference::cuda) {
    throw std::runtime_error("no CUDA device is visible to this process (check CUDA_VISIBLE_DEVICES and the driver)");
  }
  if (env_ranks) throw no_gpu_for_env_ranks(info, "it sees no CUDA device (check CUDA_VISIBLE_DEVICES and the driver)");
#else
  if (pref == DevicePreference::cuda) {
    throw std::runtime_error("no CUDA device: this ZeroShard build has no CUDA support (configure with -DZS_CUDA=ON)");
  }
  if (env_ranks) throw no_gpu_for_env_ranks(info, "this ZeroShard build has no CUDA support (configure with -DZS_CUDA=ON)");
#endif
  return c10::Device(c10::kCPU);
}

}  // namespace

World init_distributed(DevicePreference pref, double timeout_s) {
  World world;
  world.info = detect_rank_info();
  double timeout = timeout_s > 0 ? timeout_s : default_comm_timeout_s();
  world.device = choose_device(world.info, pref);
#ifdef ZS_WITH_CUDA
  if (world.device.is_cuda()) set_current_cuda_device(world.device);
#endif

  const bool watch = world.info.world_size > 1 && watchdog_options_from_env().hang_timeout_s > 0;
  if (world.info.world_size == 1 && world.info.launcher != Launcher::mpi) {
    world.comm = std::make_shared<SelfCommunicator>(world.device);
  } else if (world.device.is_cuda()) {
#ifdef ZS_WITH_CUDA
    JobStore js = rendezvous_store(world.info, timeout);
    world.comm = make_nccl_communicator(world.info, world.device, timeout, js.store);
    if (watch) {
      std::weak_ptr<Communicator> comm = world.comm;
      world.watchdog = start_watchdog(js.store, js.address, world.rank(), world.size(), [comm](const std::string& why) {
        if (auto c = comm.lock()) c->abort(why);  // ncclCommAbort: no kernel of this rank waits on
        std::_Exit(1);
      });
    }
#endif
  } else {
    world.comm = make_mpi_communicator(world.info, timeout);
    if (watch) {
      JobStore js = share_job_store();
      // MPI calls are not allowed from the watchdog's thread: the rank leaves with a non-zero code, and
      // its launcher (zsrun, mpirun, srun --kill-on-bad-exit) ends the others.
      world.watchdog = start_watchdog(js.store, js.address, world.rank(), world.size(),
                                      [](const std::string&) { std::_Exit(1); });
    }
  }
  return world;
}

}  // namespace zs
