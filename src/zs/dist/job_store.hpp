// The job's TCP store (c10d::TCPStore, served by rank 0): GPU ranks exchange their NCCL id through it,
// and every rank's hang watchdog beats through it.
#pragma once

#include <string>

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "zs/dist/world.hpp"

namespace zs {

struct JobStore {
  c10::intrusive_ptr<c10d::Store> store;   // null where only the address is known
  std::string address;   // "host:port", for connections of its own and for messages
};

// At MASTER_ADDR:MASTER_PORT: rank 0 serves it and waits for every rank (torchrun's rendezvous).
JobStore rendezvous_store(const RankInfo& info, double timeout_s);

// Rank 0 only: a server on a port the system picks (so jobs on one machine never collide), and the
// address its peers reach it at: MASTER_ADDR when set, else this host's first non-loopback IPv4
// address. The caller passes the address to its peers (MPI ranks broadcast it).
JobStore serve_store_on_free_port();
}  // namespace zs
