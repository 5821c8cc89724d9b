// dist_probe: runs every collective on known values and checks the results on each rank.
// Started by tests/test_dist.cpp through `zsrun --num_procs N`. Prints "rank R ok: N checks".
//   --fail-rank R --mode exit   rank R exits with code 7 before the first collective
//   --fail-rank R --mode hang   rank R sleeps forever outside collectives (the watchdog, or else the
//                               others' collective timeout, must end the job)
//   --fail-rank R --mode stop   rank R stops itself (SIGSTOP), as a frozen process
//   --fail-rank R --mode kill   rank R kills itself (SIGKILL)
//   --device cuda               run on cuda:LOCAL_RANK through NCCL (GPU machines)
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>

#include "zs/dist/collective_checks.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/world.hpp"

namespace {

int g_rank = 0;
int g_checks = 0;
c10::Device g_device = c10::Device(c10::kCPU);

void expect_equal(const at::Tensor& got, const at::Tensor& want, const std::string& what) {
  ++g_checks;
  if (got.sizes() == want.sizes() && at::equal(got.cpu(), want.cpu())) return;
  std::ostringstream s;
  s << "rank " << g_rank << " FAILED: " << what << "\n got:  " << got.to(at::kDouble).reshape(-1).slice(0, 0, 8)
    << "\n want: " << want.to(at::kDouble).reshape(-1).slice(0, 0, 8);
  std::fprintf(stderr, "%s\n", s.str().c_str());
  std::exit(1);
}

// Values small enough to be exact in bfloat16 (integers below 256).
void check_dtype(zs::Communicator& comm, c10::ScalarType dtype) {
  const int r = comm.rank(), w = comm.size();
  const auto opts = at::TensorOptions().dtype(dtype).device(g_device);
  const std::string name = zs::dtype_name(dtype);
  const int64_t m = 4;  // elements per rank chunk
  auto base = at::arange(1, m + 1, opts);  // 1..m

  // all_reduce: rank r holds 2(r+1) * base. sum = w(w+1) base, avg = (w+1) base, max = 2w base, min = 2 base.
  struct Case { zs::ReduceOp op; int64_t factor; };
  for (Case c : {Case{zs::ReduceOp::sum, int64_t(w) * (w + 1)}, Case{zs::ReduceOp::avg, int64_t(w) + 1},
                 Case{zs::ReduceOp::max, 2 * int64_t(w)}, Case{zs::ReduceOp::min, 2}}) {
    auto t = base * (2 * (r + 1));
    comm.all_reduce(t, c.op)->wait();
    expect_equal(t, base * c.factor, "all_reduce " + std::string(zs::reduce_op_name(c.op)) + " " + name);
  }

  // reduce_scatter (sum): rank q's input element i = q + i; chunk r of the sum is w(r*m + j) + w(w-1)/2.
  {
    auto input = at::arange(w * m, opts) + r;
    auto output = at::zeros({m}, opts);
    comm.reduce_scatter(output, input, zs::ReduceOp::sum)->wait();
    auto want = (at::arange(m, opts) + r * m) * w + (w * (w - 1) / 2);
    expect_equal(output, want, "reduce_scatter sum " + name);
    // avg, with the output being this rank's own chunk of the input (overlapping buffers).
    auto input2 = at::full({w * m}, 2 * (r + 1), opts);
    auto own = input2.slice(0, r * m, (r + 1) * m);
    comm.reduce_scatter(own, input2, zs::ReduceOp::avg)->wait();
    expect_equal(own, at::full({m}, w + 1, opts), "reduce_scatter avg in place " + name);
  }

  // all_gather: chunk q of the output is 10q + j.
  {
    auto input = at::arange(m, opts) + 10 * r;
    auto output = at::zeros({w * m}, opts);
    comm.all_gather(output, input)->wait();
    auto want = at::arange(w * m, opts).remainder(m) + at::arange(w * m, opts).div(m, "floor") * 10;
    expect_equal(output, want.to(dtype), "all_gather " + name);
    // In place: the input is this rank's chunk of the output.
    auto output2 = at::zeros({w * m}, opts);
    auto own = output2.slice(0, r * m, (r + 1) * m);
    own.copy_(input);
    comm.all_gather(output2, own)->wait();
    expect_equal(output2, want.to(dtype), "all_gather in place " + name);
  }

  // broadcast from root 1 (root 0 in a world of one): every rank ends with root + 5.
  {
    int root = w > 1 ? 1 : 0;
    auto t = at::full({m}, r + 5, opts);
    comm.broadcast(t, root)->wait();
    expect_equal(t, at::full({m}, root + 5, opts), "broadcast " + name);
  }
  comm.barrier();
}

}  // namespace

int main(int argc, char** argv) {
  int fail_rank = -1;
  std::string mode;
  auto pref = zs::DevicePreference::cpu;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--fail-rank")) fail_rank = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--mode")) mode = argv[++i];
    else if (!std::strcmp(argv[i], "--device")) pref = std::strcmp(argv[++i], "cuda") ? zs::DevicePreference::cpu : zs::DevicePreference::cuda;
  }
  zs::World world;
  try {
    world = zs::init_distributed(pref);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dist_probe: %s\n", e.what());
    return 2;
  }
  zs::Communicator& comm = *world.comm;
  g_rank = comm.rank();
  g_device = world.device;
  std::printf("rank %d of %d: backend %s, launcher %s, device %s\n", comm.rank(), comm.size(), comm.backend().c_str(),
              zs::launcher_name(world.info.launcher), world.device.str().c_str());
  std::fflush(stdout);

  if (fail_rank == g_rank) {
    if (mode == "exit") {
      std::printf("rank %d exits with code 7 on purpose\n", g_rank);
      std::fflush(stdout);
      std::exit(7);
    }
    if (mode == "hang") {
      std::printf("rank %d hangs on purpose\n", g_rank);
      std::fflush(stdout);
      while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (mode == "stop" || mode == "kill") {
      std::printf("rank %d %s itself on purpose\n", g_rank, mode == "stop" ? "stops" : "kills");
      std::fflush(stdout);
      raise(mode == "stop" ? SIGSTOP : SIGKILL);
    }
  }

  for (auto dtype : {c10::kFloat, c10::kBFloat16, c10::kLong}) check_dtype(comm, dtype);

  // A large float32 all_reduce (4 MiB), beyond MPI's eager sizes.
  {
    auto t = at::full({1 << 20}, float(comm.rank() + 1), at::TensorOptions().device(g_device));
    comm.all_reduce(t, zs::ReduceOp::sum)->wait();
    expect_equal(t, at::full({1 << 20}, float(comm.size() * (comm.size() + 1) / 2)), "large all_reduce float32");
  }
  // Several collectives in flight at once, waited on in reverse order.
  {
    std::vector<at::Tensor> ts;
    std::vector<zs::WorkHandle> works;
    for (int i = 0; i < 8; ++i) {
      ts.push_back(at::full({1000}, double(i + comm.rank()), at::TensorOptions().dtype(at::kDouble).device(g_device)));
      works.push_back(comm.all_reduce(ts.back(), zs::ReduceOp::max));
    }
    for (int i = 7; i >= 0; --i) works[i]->wait();
    for (int i = 0; i < 8; ++i) {
      expect_equal(ts[i], at::full({1000}, double(i + comm.size() - 1)), "overlapping all_reduce max float64");
    }
  }
  comm.barrier();
  // A collective dropped unfinished on every rank (a prefetch in flight when the engine goes away),
  // rank 0 first: MPI still writes into the buffers, which must outlive the handles until MPI_Finalize
  // completes the collective (they used to be freed: a crash at exit).
  if (!g_device.is_cuda()) {
    const int64_t n = 1 << 21;  // 8 MiB per rank: beyond MPI's eager sizes, freed straight to the OS
    if (comm.rank() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    comm.all_gather(at::empty({n * comm.size()}), at::full({n}, float(comm.rank())));
  }
  std::printf("rank %d ok: %d checks\n", g_rank, g_checks);
  return 0;
}
