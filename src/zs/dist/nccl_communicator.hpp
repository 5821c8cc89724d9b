// Collectives on CUDA tensors over NCCL. Defined in nccl_communicator_cuda.cpp, which only the GPU
// build compiles (ZS_WITH_CUDA); call these only under #ifdef ZS_WITH_CUDA.
#pragma once

#include <memory>

#include <c10/core/Device.h>

#include "zs/dist/communicator.hpp"
#include "zs/dist/world.hpp"

namespace zs {

// CUDA devices this process sees (0 when there is no driver or no device).
int cuda_device_count();

// Makes `device` this process's current CUDA device, so that every allocation and kernel that
// does not name a device lands there (and no rank opens a context on GPU 0 by accident).
void set_current_cuda_device(c10::Device device);

// Bootstraps NCCL through a TCP store at info.master_addr:info.master_port (rank 0 serves it) and
// returns a communicator whose collectives run on its own high-priority stream of `device`.
// Collectives that outlive `timeout_s` make a watchdog abort the communicator and end the process.
std::shared_ptr<Communicator> make_nccl_communicator(const RankInfo& info, c10::Device device, double timeout_s);

}  // namespace zs
