// Collectives on CUDA tensors over NCCL. Defined in nccl_communicator_cuda.cpp, which only the GPU
// build compiles (ZS_WITH_CUDA); call these only under #ifdef ZS_WITH_CUDA.
#pragma once

#include <memory>

#include <c10/core/Device.h>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include "zs/dist/communicator.hpp"
#include "zs/dist/world.hpp"

namespace zs {

// CUDA devices this process sees (0 when there is no driver or no device).
int cuda_device_count();

// Makes `device` this process's current CUDA device, so that every allocation and kernel that
// does not name a device lands there (and no rank opens a context on GPU 0 by accident).
void set_current_cuda_device(c10::Device device);

// Bootstraps NCCL through the job's store (job_store.hpp: rank 0 publishes the NCCL id) and returns a
// communicator whose collectives run on its own high-priority stream of `device`. Collectives that
// outlive `timeout_s` make its thread abort the communicator and end the process; abort() (also
// called by the hang watchdog) runs ncclCommAbort, so no kernel of this rank waits on.
std::shared_ptr<Communicator> make_nccl_communicator(const RankInfo& info, c10::Device device, double timeout_s,
                                                     c10::intrusive_ptr<c10d::Store> store);

}  // namespace zs
