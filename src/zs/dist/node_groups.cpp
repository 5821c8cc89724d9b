#include "zs/dist/node_groups.hpp"

#include <stdexcept>
#include <string>

#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>

#include "zs/dist/communicator.hpp"

namespace zs {

NodeLayout node_layout(const RankInfo& info, int group_size) {
  const std::string world = std::to_string(info.world_size);
  if (group_size < 0) throw std::invalid_argument("node group size " + std::to_string(group_size) + " is negative");
  if (group_size == 0) {
    group_size = info.local_world_size;
    if (info.world_size % group_size != 0 || info.local_rank != info.rank % group_size) {
      throw std::invalid_argument(
          "node groups need ranks numbered node by node with the same number on every node, but rank " +
          std::to_string(info.rank) + " of " + world + " has LOCAL_RANK=" + std::to_string(info.local_rank) +
          " and LOCAL_WORLD_SIZE=" + std::to_string(info.local_world_size) +
          " (start the ranks with zsrun or torchrun, or mpirun --map-by slot, on equal nodes)");
    }
  }
  if (info.world_size % group_size != 0) {
    throw std::invalid_argument("node group size " + std::to_string(group_size) + " does not divide the " + world +
                                " ranks; pick a divisor of the world size");
  }
  NodeLayout l;
  l.group_size = group_size;
  l.num_groups = info.world_size / group_size;
  l.node = info.rank / group_size;
  l.local_rank = info.rank % group_size;
  return l;
}

NodeGroups make_node_groups(const World& world, int group_size) {
  NodeGroups g;
  g.layout = node_layout(world.info, group_size);
  // Every rank must cut the world the same way (LOCAL_WORLD_SIZE can differ between machines).
  const int n = world.comm->size();
  auto opts = at::TensorOptions().dtype(at::kLong).device(world.device);
  auto mine = at::full({1}, int64_t(g.layout.group_size), opts);
  auto all = at::empty({n}, opts);
  world.comm->all_gather(all, mine)->wait();
  auto sizes = all.cpu();
  for (int r = 0; r < n; ++r) {
    const int64_t theirs = sizes.data_ptr<int64_t>()[r];
    if (theirs != g.layout.group_size) {
      throw std::runtime_error("ranks disagree on the node group size: rank " + std::to_string(world.rank()) +
                               " has " + std::to_string(g.layout.group_size) + ", rank " + std::to_string(r) +
                               " has " + std::to_string(theirs) + " (are the machines' rank counts equal?)");
    }
  }
  g.node = world.comm->split(g.layout.node, g.layout.local_rank);
  g.cross = world.comm->split(g.layout.local_rank, g.layout.node);
  return g;
}

}  // namespace zs
