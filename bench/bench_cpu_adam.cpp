// The fused CPU Adam next to LibTorch's fused CPU AdamW (at::_fused_adamw_), one run, same data:
// time per step (median), Gparam/s and the speedup, per thread count; with and without writing
// the bf16 param copy (LibTorch needs a second pass for it: param16.copy_(param)). Also the
// difference between the two results after 3 identical steps. The offload-shaped table ends with
// ours in GB/s moved (28 bytes a parameter) beside LibTorch's fp32 copy on the same threads: a
// plain measure of the host memory's speed for this process (the copy's destination reads, which
// caches make, not counted).
//
//   bench_cpu_adam [--numel 100000000] [--threads 1,2,16,32] [--reps 7]
//   ZS_CPU_ADAM_ISA=avx2 bench_cpu_adam ...     (force a flavour)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

#include "bench_threads.hpp"
#include "zs/optim/cpu_adam.hpp"

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

struct Adam {
  at::Tensor param, exp_avg, exp_avg_sq;
  Adam(const at::Tensor& init) : param(init.clone()), exp_avg(at::zeros_like(init)), exp_avg_sq(at::zeros_like(init)) {}
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median seconds per call of each variant: one warm-up call each, then `reps` rounds that run
// every variant once, so a slow spell on a shared machine hits all of them alike.
std::vector<double> median_seconds(int reps, const std::vector<std::function<void()>>& variants) {
  for (const auto& fn : variants) fn();
  std::vector<std::vector<double>> times(variants.size());
  for (int r = 0; r < reps; ++r) {
    for (size_t v = 0; v < variants.size(); ++v) {
      const double t0 = now_s();
      variants[v]();
      times[v].push_back(now_s() - t0);
    }
  }
  std::vector<double> medians;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t numel = 100'000'000;
  const int cores = zs::bench::affinity_cores();
  std::string threads_text = "1,2," + std::to_string(cores);
  int reps = 7;
  CLI::App app("Fused CPU Adam vs LibTorch's fused CPU AdamW");
  app.add_option("--numel", numel, "fp32 parameters updated per step")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads_text, "comma-separated thread counts");
  app.add_option("--reps", reps, "timed steps per measurement (median reported)")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  std::vector<int> thread_counts;
  try {
    thread_counts = zs::bench::parse_thread_counts(threads_text);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "--threads '%s': %s\n", threads_text.c_str(), e.what());
    return 2;
  }
  if (thread_counts.empty()) {
    std::fprintf(stderr, "--threads: no thread counts in '%s'\n", threads_text.c_str());
    return 2;
  }
  thread_counts.erase(std::unique(thread_counts.begin(), thread_counts.end()), thread_counts.end());

  zs::AdamHyper h;  // AdamW, torch's defaults
  h.lr = 1e-3;
  h.weight_decay = 0.01;

  std::printf("CPU: %s; cores available to this process: %d; ISA: %s (ZS_CPU_ADAM_ISA forces one)\n",
              cpu_model().c_str(), cores, zs::cpu_isa_name(zs::cpu_adam_isa()));
  std::printf("AdamW over %lld fp32 params, fp32 grads, lr %g, weight_decay %g; median of %d steps\n",
              static_cast<long long>(numel), h.lr, h.weight_decay, reps);

  at::manual_seed(0);
  const at::Tensor init = at::rand({numel}) * 2 - 1;
  const at::Tensor grad = (at::rand({numel}) - 0.5) * 0.01;

  // Agreement: 3 identical steps on identical data.
  {
    const int t = *std::max_element(thread_counts.begin(), thread_counts.end());
    at::set_num_threads(t);
    Adam ours(init), ref(init);
    for (int64_t step = 1; step <= 3; ++step) {
      zs::cpu_adam_step(ours.param, grad, ours.exp_avg, ours.exp_avg_sq, std::nullopt, h, step, 1.0, t);
      const at::Tensor step_t = at::full({}, static_cast<double>(step), at::kFloat);
      at::_fused_adamw_({ref.param}, {grad}, {ref.exp_avg}, {ref.exp_avg_sq}, {}, {step_t}, h.lr, h.beta1, h.beta2,
                        h.weight_decay, h.eps, false, false);
    }
    const double max_abs = (ours.param - ref.param).abs().max().item<double>();
    const double max_rel = max_abs / ref.param.abs().max().item<double>();
    const int64_t differing = (ours.param != ref.param).sum().item<int64_t>();
    std::printf("after 3 steps vs at::_fused_adamw_: max |diff| %.3g, max |diff| / max |param| %.3g, "
                "%lld of %lld params not bit-identical\n\n",
                max_abs, max_rel, static_cast<long long>(differing), static_cast<long long>(numel));
  }

  Adam ours(init), ref(init);
  at::Tensor ours16 = at::empty({numel}, at::kBFloat16);
  at::Tensor ref16 = at::empty({numel}, at::kBFloat16);
  int64_t our_step = 0, ref_step = 0;  // both advance once per call
  at::Tensor ref_step_t = at::zeros({}, at::kFloat);
  auto torch_step = [&] {
    ref_step_t.fill_(static_cast<double>(++ref_step));
    at::_fused_adamw_({ref.param}, {grad}, {ref.exp_avg}, {ref.exp_avg_sq}, {}, {ref_step_t}, h.lr, h.beta1,
                      h.beta2, h.weight_decay, h.eps, false, false);
  };

  const double g = static_cast<double>(numel) * 1e-9;
  std::printf("%7s | %9s %8s | %9s %8s | %9s %8s | %9s %8s | %9s %9s\n", "threads", "ours ms", "Gp/s",
              "torch ms", "Gp/s", "ours+bf16", "Gp/s", "torch+cp", "Gp/s", "speedup", "spd+bf16");
  for (int t : thread_counts) {
    at::set_num_threads(t);
    const std::vector<double> s = median_seconds(reps, {
      [&] { zs::cpu_adam_step(ours.param, grad, ours.exp_avg, ours.exp_avg_sq, std::nullopt, h, ++our_step, 1.0, t); },
      [&] { torch_step(); },
      [&] { zs::cpu_adam_step(ours.param, grad, ours.exp_avg, ours.exp_avg_sq, ours16, h, ++our_step, 1.0, t); },
      [&] {
        torch_step();
        ref16.copy_(ref.param);
      },
    });
    const double ours_s = s[0], torch_s = s[1], ours16_s = s[2], torch16_s = s[3];
    std::printf("%7d | %9.2f %8.2f | %9.2f %8.2f | %9.2f %8.2f | %9.2f %8.2f | %8.2fx %8.2fx\n", t,
                ours_s * 1e3, g / ours_s, torch_s * 1e3, g / torch_s, ours16_s * 1e3, g / ours16_s,
                torch16_s * 1e3, g / torch16_s, torch_s / ours_s, torch16_s / ours16_s);
    std::fflush(stdout);
  }
  std::printf("\nspeedup = torch ms / ours ms; spd+bf16 compares ours writing the bf16 copy in the same pass "
              "with torch's step followed by param16.copy_(param).\n");

  // The step as offload runs it: bf16 gradients come from the GPU, bf16 parameters go back.
  // Ours reads the bf16 gradient and writes the bf16 copy in its one pass; torch's fused AdamW
  // takes fp32 gradients, so it needs the conversion before and the copy after.
  const at::Tensor grad16 = grad.to(at::kBFloat16);
  {
    Adam a(init), b(init);
    at::Tensor a16 = at::empty({numel}, at::kBFloat16), b16 = at::empty({numel}, at::kBFloat16);
    for (int64_t step = 1; step <= 3; ++step) {
      zs::cpu_adam_step(a.param, grad16, a.exp_avg, a.exp_avg_sq, a16, h, step, 1.0, 0);
      const at::Tensor step_t = at::full({}, static_cast<double>(step), at::kFloat);
      at::_fused_adamw_({b.param}, {grad16.to(at::kFloat)}, {b.exp_avg}, {b.exp_avg_sq}, {}, {step_t}, h.lr, h.beta1,
                        h.beta2, h.weight_decay, h.eps, false, false);
      b16.copy_(b.param);
    }
    std::printf("\noffload-shaped step (bf16 gradient in, bf16 parameter out), after 3 steps: %lld of %lld fp32 "
                "params and %lld bf16 params differ from torch\n",
                static_cast<long long>((a.param != b.param).sum().item<int64_t>()), static_cast<long long>(numel),
                static_cast<long long>((a16 != b16).sum().item<int64_t>()));
  }
  std::printf("%7s | %9s %8s %6s | %9s %8s | %9s | %9s %6s | %7s\n", "threads", "ours ms", "Gp/s", "GB/s", "torch ms",
              "Gp/s", "speedup", "copy ms", "GB/s", "ours/copy");
  at::Tensor grad32 = at::empty({numel}, at::kFloat);
  // The host memory's speed for comparison: an fp32 copy of 3 x numel elements (a read and a
  // write of 12 bytes a parameter), in GB/s moved; ours counts its 28 bytes a parameter.
  const at::Tensor copy_src = at::rand({3 * numel});
  at::Tensor copy_dst = at::empty_like(copy_src);
  for (int t : thread_counts) {
    at::set_num_threads(t);
    const std::vector<double> s = median_seconds(reps, {
      [&] { zs::cpu_adam_step(ours.param, grad16, ours.exp_avg, ours.exp_avg_sq, ours16, h, ++our_step, 1.0, t); },
      [&] {
        grad32.copy_(grad16);
        ref_step_t.fill_(static_cast<double>(++ref_step));
        at::_fused_adamw_({ref.param}, {grad32}, {ref.exp_avg}, {ref.exp_avg_sq}, {}, {ref_step_t}, h.lr, h.beta1,
                          h.beta2, h.weight_decay, h.eps, false, false);
        ref16.copy_(ref.param);
      },
      [&] { copy_dst.copy_(copy_src); },
    });
    const double ours_gbs = 28.0 * g / s[0], copy_gbs = 24.0 * g / s[2];
    std::printf("%7d | %9.2f %8.2f %6.0f | %9.2f %8.2f | %8.2fx | %9.2f %6.0f | %8.2fx\n", t, s[0] * 1e3, g / s[0],
                ours_gbs, s[1] * 1e3, g / s[1], s[1] / s[0], s[2] * 1e3, copy_gbs, ours_gbs / copy_gbs);
    std::fflush(stdout);
  }
  return 0;
}
