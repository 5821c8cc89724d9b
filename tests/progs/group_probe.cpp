// group_probe: communicator groups (split, node groups) and all_to_all on known values, checked on
// each rank. Started by tests/test_comm_groups.cpp through `zsrun --num_procs N`. Prints
// "rank R ok: N checks".
//   --hang-in-group   rank 1 never joins an all_to_all of the node group (rank 0 must time out)
//   --device cuda     run on cuda:LOCAL_RANK through NCCL (GPU machines)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>

#include "zs/dist/collective_checks.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/node_groups.hpp"
#include "zs/dist/world.hpp"

namespace {

int g_rank = 0;
int g_checks = 0;
c10::Device g_device = c10::Device(c10::kCPU);

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "rank %d FAILED: %s\n", g_rank, what.c_str());
  std::exit(1);
}

void expect(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) fail(what);
}

void expect_equal(const at::Tensor& got, const at::Tensor& want, const std::string& what) {
  ++g_checks;
  if (got.sizes() == want.sizes() && at::equal(got.cpu(), want.cpu())) return;
  std::ostringstream s;
  s << what << "\n got:  " << got.to(at::kDouble).reshape(-1).slice(0, 0, 12).cpu()
    << "\n want: " << want.to(at::kDouble).reshape(-1).slice(0, 0, 12).cpu();
  fail(s.str());
}

// all_to_all on `comm`: rank r sends 16r + 4q + j to rank q (j < 4), so chunk q of what rank r
// receives is 16q + 4r + j. Integers below 64: exact in every dtype.
void check_all_to_all(zs::Communicator& comm, c10::ScalarType dtype, const std::string& where) {
  const int r = comm.rank(), n = comm.size();
  const auto opts = at::TensorOptions().dtype(at::kLong).device(g_device);
  auto q = at::arange(n * 4, opts).div(4, "floor");
  auto j = at::arange(n * 4, opts).remainder(4);
  auto input = (q * 4 + j + 16 * r).to(dtype);
  auto want = (q * 16 + j + 4 * r).to(dtype);
  auto output = at::zeros({n * 4}, opts.dtype(dtype));
  comm.all_to_all(output, input)->wait();
  const std::string name = "all_to_all " + zs::dtype_name(dtype) + " " + where;
  expect_equal(output, want, name);
  // In place: the same tensor in and out.
  auto inout = input.clone();
  comm.all_to_all(inout, inout)->wait();
  expect_equal(inout, want, name + " in place");
}

int64_t sum_of(int first, int step, int count) {
  int64_t s = 0;
  for (int i = 0; i < count; ++i) s += first + i * step;
  return s;
}

// Every rank's world rank, summed over `comm`: tells which ranks form the group.
int64_t world_rank_sum(zs::Communicator& comm) {
  auto t = at::full({1}, int64_t(g_rank), at::TensorOptions().dtype(at::kLong).device(g_device));
  comm.all_reduce(t, zs::ReduceOp::sum)->wait();
  return t.cpu().item<int64_t>();
}

}  // namespace

int main(int argc, char** argv) {
  bool hang_in_group = false;
  auto pref = zs::DevicePreference::cpu;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--hang-in-group")) hang_in_group = true;
    else if (!std::strcmp(argv[i], "--device") && i + 1 < argc) pref = std::strcmp(argv[++i], "cuda") ? zs::DevicePreference::cpu : zs::DevicePreference::cuda;
  }
  zs::World world;
  try {
    world = zs::init_distributed(pref);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "group_probe: %s\n", e.what());
    return 2;
  }
  zs::Communicator& comm = *world.comm;
  g_rank = comm.rank();
  g_device = world.device;
  const int r = comm.rank(), n = comm.size();
  std::printf("rank %d of %d: backend %s\n", r, n, comm.backend().c_str());
  std::fflush(stdout);

  if (hang_in_group) {
    zs::NodeGroups groups = zs::make_node_groups(world, n);
    if (r == 1) {
      std::printf("rank 1 stays out of the group's all_to_all on purpose\n");
      std::fflush(stdout);
      while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    auto t = at::zeros({2 * n}, at::TensorOptions().device(g_device));
    groups.node->all_to_all(at::zeros_like(t), t)->wait();
    return 0;
  }

  // all_to_all over the world.
  for (auto dtype : {c10::kFloat, c10::kBFloat16, c10::kLong, c10::kByte}) check_all_to_all(comm, dtype, "world");
  {
    auto empty = at::zeros({0}, at::TensorOptions().device(g_device));
    comm.all_to_all(empty, empty.clone())->wait();
    expect(true, "empty all_to_all");
  }
  if (n > 1) {
    bool threw = false;
    try {
      comm.all_to_all(at::zeros({n + 1}, at::TensorOptions().device(g_device)), at::zeros({n + 1}, at::TensorOptions().device(g_device)));
    } catch (const std::invalid_argument& e) {
      threw = std::string(e.what()).find("multiple of the world size") != std::string::npos;
    }
    expect(threw, "all_to_all rejects a size that does not split evenly");
  }

  // Split by parity, ranked backwards (key -rank): group rank = place among same-parity ranks, from the top.
  {
    auto parity = comm.split(r % 2, -r);
    expect(parity != nullptr, "parity group exists");
    const int members = (n - r % 2 + 1) / 2;  // ranks with this parity
    expect(parity->size() == members, "parity group size");
    int above = 0;
    for (int q = r + 2; q < n; q += 2) ++above;
    expect(parity->rank() == above, "parity group rank ordered by key (got " + std::to_string(parity->rank()) + ")");
    expect(world_rank_sum(*parity) == sum_of(r % 2, 2, members), "parity group holds the same-parity ranks");
    check_all_to_all(*parity, c10::kFloat, "parity group");
    // A group of a group: the lowest two of the parity group (by its own order) and the rest.
    auto sub = parity->split(parity->rank() < 2 ? 0 : 1, parity->rank());
    expect(sub && sub->size() == (parity->rank() < 2 ? std::min(2, members) : members - 2), "group of a group");
    check_all_to_all(*sub, c10::kLong, "group of a group");
  }
  // A negative color: the last rank joins no group.
  {
    auto some = comm.split(r == n - 1 ? -1 : 0, r);
    if (r == n - 1) {
      expect(some == nullptr, "negative color gives no group");
    } else {
      expect(some && some->size() == n - 1 && some->rank() == r, "group without the last rank");
      expect(world_rank_sum(*some) == sum_of(0, 1, n - 1), "group without the last rank holds the others");
    }
  }

  // Node groups from the launcher's layout: zsrun runs every rank on one machine.
  {
    zs::NodeGroups g = zs::make_node_groups(world);
    expect(g.layout.group_size == n && g.layout.num_groups == 1, "one machine is one node");
    expect(g.node->size() == n && g.node->rank() == r && g.cross->size() == 1, "node group = world, cross = self");
  }
  // Emulated nodes of two ranks (hpZ's partition size 2).
  if (n % 2 == 0) {
    zs::NodeGroups g = zs::make_node_groups(world, 2);
    const int node = r / 2, local = r % 2;
    expect(g.layout.node == node && g.layout.local_rank == local, "layout of emulated nodes");
    expect(g.node->size() == 2 && g.node->rank() == local, "node group size and rank");
    expect(g.cross->size() == n / 2 && g.cross->rank() == node, "cross group size and rank");
    expect(world_rank_sum(*g.node) == 4 * node + 1, "node group holds ranks 2k, 2k+1");
    expect(world_rank_sum(*g.cross) == sum_of(local, 2, n / 2), "cross group holds one rank per node");
    check_all_to_all(*g.node, c10::kBFloat16, "node group");
    check_all_to_all(*g.cross, c10::kFloat, "cross group");
  }
  // A group size that does not divide the world: the same clear error on every rank, before any split.
  if (n == 4) {
    std::string message;
    try {
      zs::make_node_groups(world, 3);
    } catch (const std::invalid_argument& e) {
      message = e.what();
    }
    expect(message.find("node group size 3 does not divide the 4 ranks") != std::string::npos, "bad group size: " + message);
  }
  comm.barrier();
  std::printf("rank %d ok: %d checks\n", r, g_checks);
  return 0;
}
