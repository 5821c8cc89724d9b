// ZeRO++'s groups over the data-parallel ranks: a node group of consecutive ranks (one machine's
// GPUs: hpZ's secondary partition and the first, intra-node hop of the quantized gradient
// reduction) and a cross-node group of the ranks holding the same place in their node (the second
// hop). Ranks must be numbered node by node (rank = node * ranks_per_node + local rank), as zsrun,
// torchrun and mpirun's default slot mapping number them.
#pragma once

#include <memory>

#include "zs/dist/world.hpp"

namespace zs {

struct NodeLayout {
  int group_size = 1;   // ranks per node group
  int num_groups = 1;   // node groups, which is also the size of each cross-node group
  int node = 0;         // this rank's node group: rank / group_size
  int local_rank = 0;   // its place in that group: rank % group_size
};

// group_size 0: the ranks of one machine (LOCAL_WORLD_SIZE, checked against LOCAL_RANK); otherwise
// that many consecutive ranks (hpZ's zero_hpz_partition_size), which also lets one machine stand
// for several nodes. Throws std::invalid_argument when the size does not divide the world or the
// environment's numbering is not node by node. No communication.
NodeLayout node_layout(const RankInfo& info, int group_size = 0);

struct NodeGroups {
  NodeLayout layout;
  std::shared_ptr<Communicator> node;    // this rank's node group
  std::shared_ptr<Communicator> cross;   // one rank of every node group, at this rank's local rank
};

// Collective over world.comm: checks that every rank computed the same layout (a std::runtime_error
// on every rank otherwise), then splits the world's communicator into both groups.
NodeGroups make_node_groups(const World& world, int group_size = 0);

}  // namespace zs
