// Lion and Adagrad with offloaded state: the step as LibTorch operations over a whole slot (what
// runs without offload) beside the loops an offloaded step runs over its pieces
// (optim/elementwise_cpu.hpp), on the same data: median ms a step per thread count, the speedup,
// and whether the two give the same bits after 3 steps. bf16 gradients, as offload hands them
// over; pieces of ZS_OFFLOAD_PIECE_ELEMENTS' default size.
//
//   bench_host_lion_adagrad [--numel 50000000] [--threads 1,2] [--reps 5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/rand.h>

#include "bench_threads.hpp"
#include "zs/optim/host_optimizer.hpp"

namespace {

constexpr int64_t kPiece = int64_t(4) << 20;  // the offloaded step's default piece (ZS_OFFLOAD_PIECE_ELEMENTS)

double median_ms(int reps, const std::function<void()>& fn) {
  fn();
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t numel = 50'000'000;
  std::string threads_text = "1,2";
  int reps = 5;
  CLI::App app("Lion and Adagrad on the CPU: LibTorch operations vs the offloaded step's loops");
  app.add_option("--numel", numel, "fp32 parameters a step")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads_text, "comma-separated thread counts");
  app.add_option("--reps", reps, "timed steps a measurement (median)")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  std::vector<int> threads;
  try {
    threads = zs::bench::parse_thread_counts(threads_text);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "--threads '%s': %s\n", threads_text.c_str(), e.what());
    return 2;
  }

  at::manual_seed(0);
  const at::Tensor init = at::rand({numel}) * 2 - 1;
  const at::Tensor grad16 = ((at::rand({numel}) - 0.5) * 0.03).to(at::kBFloat16), grad32 = grad16.to(at::kFloat);
  std::printf("%lld fp32 parameters, bf16 gradients divided by 3, weight decay 0.05, pieces of %lld; median of %d\n",
              static_cast<long long>(numel), static_cast<long long>(kPiece), reps);
  std::printf("%-8s %7s | %12s %12s | %7s | %s\n", "", "threads", "ops ms", "loops ms", "speedup", "same bits");
  for (const char* type : {"Lion", "Adagrad"}) {
    zs::OptimizerConfig c;
    c.type = type;
    for (int t : threads) {
      at::set_num_threads(t);
      const at::Tensor a = init.clone(), b = init.clone();
      auto ops = zs::make_optimizer(c);
      auto loops = zs::make_host_optimizer(c, /*pin_memory=*/false);
      ops->add_param(a, 0.05);
      loops->add_param(b, 0.05);
      const auto ops_step = [&] { ops->step({grad32}, 1e-3, 3.0); };
      const auto loops_step = [&] {
        loops->begin_step();
        for (int64_t begin = 0; begin < numel; begin += kPiece)
          loops->step_range(0, begin, grad16.narrow(0, begin, std::min(kPiece, numel - begin)), 1e-3, 3.0, at::Tensor());
      };
      for (int s = 0; s < 3; ++s) {
        ops_step();
        loops_step();
      }
      const std::string key = loops->state_keys().front();
      const bool same = at::equal(a, b) && at::equal(ops->state(0).at(key), loops->state(0).at(key));
      const double ops_ms = median_ms(reps, ops_step), loops_ms = median_ms(reps, loops_step);
      std::printf("%-8s %7d | %12.1f %12.1f | %6.2fx | %s\n", type, t, ops_ms, loops_ms, ops_ms / loops_ms,
                  same ? "yes" : "NO");
      std::fflush(stdout);
    }
  }
  return 0;
}
