// Collectives on CPU tensors over MPI (OpenMPI). The ranks must have been started by an MPI
// launcher (`zsrun --num_procs N`, mpirun, or srun with PMI): MPI cannot join processes started
// independently.
#pragma once

#include <memory>

#include "zs/dist/communicator.hpp"
#include "zs/dist/job_store.hpp"
#include "zs/dist/world.hpp"

namespace zs {

// Initializes MPI (once per process; finalized at a clean exit) and checks that MPI's world is the
// one `info` describes. Throws std::runtime_error with what to do when it is not.
std::shared_ptr<Communicator> make_mpi_communicator(const RankInfo& info, double timeout_s);

// Collective over MPI's world (after make_mpi_communicator): rank 0 serves the job's store on a free
// port and broadcasts its address (the other ranks get only the address).
JobStore share_job_store();

}  // namespace zs
