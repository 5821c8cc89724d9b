// The engine's monitors: setting up the metric sinks and the flops profiler, the rates each step
// reports to the sinks, and the summary printed at start. (The calls into them sit where the engine's work happens, engine.cpp and engine_setup.cpp.)
#include <cstdio>

#include <ATen/ops/full.h>

#include "zs/dist/communicator.hpp"
#include "zs/engine/engine.hpp"
#include "zs/zero/param_swapper.hpp"
#include "zs/zero/unit_codec.hpp"
#include "zs/zero/zero_optimizer.hpp"
#include "zs/monitor/flops_profiler.hpp"
#include "zs/monitor/metric_sinks.hpp"
#include "zs/monitor/step_logger.hpp"
#include "zs/monitor/step_stats.hpp"

namespace zs {

// The files rank 0 writes (metric sinks, the flops profile) are opened here, before the model is
// partitioned (the flops profiler reads its parameter counts). A failure on one rank stops every
// rank with its message, instead of leaving the others waiting in the next collective.
void Engine::make_monitors() {
  std::string error;
  try {
    sinks_ = std::make_unique<MetricSinks>(config_, options_.metrics_jsonl, world_.rank());
    if (config_.flops_profiler) {
      FlopsProfilerSetup setup;
      setup.rank = world_.rank();
      setup.world_size = world_.size();
      setup.micro_batch = config_.train_micro_batch_size_per_gpu;
      setup.gradient_accumulation = config_.gradient_accumulation_steps;
      setup.tokens_per_sample = options_.tokens_per_sample;
      setup.formula_flops_per_token = options_.flops_per_token;
      setup.peak_flops = peak_flops();
      flops_profiler_ = std::make_unique<FlopsProfiler>(config_.flops_profiler_options, model_, world_.device, setup);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  at::Tensor failed = at::full({1}, error.empty() ? 0.0 : 1.0, at::TensorOptions().dtype(at::kFloat).device(world_.device));
  world_.comm->all_reduce(failed, ReduceOp::max)->wait();
  if (failed.item<float>() > 0)   // a path that cannot be written: bad input, reported once by the rank that saw it
    throw ConfigError(error.empty() ? "the monitors could not be set up on another rank (see its message)" : error);
}

double Engine::peak_flops() const {
  if (options_.peak_flops_per_device > 0) return options_.peak_flops_per_device;
  return world_.device.is_cuda() ? kDefaultCudaPeakFlops : 0.0;
}

void Engine::add_throughput(StepStats& stats) const {
  if (stats.seconds <= 0) return;
  stats.extras.emplace_back("samples_per_second", double(stats.samples) / stats.seconds);
  if (stats.tokens <= 0) return;
  const double per_device = double(stats.tokens) / stats.seconds / world_.size();
  stats.extras.emplace_back("tokens_per_second_per_device", per_device);
  const double peak = peak_flops();
  if (peak > 0 && options_.flops_per_token > 0) stats.extras.emplace_back("mfu", per_device * options_.flops_per_token / peak);
}

void Engine::print_summary() const {
  const Config& c = config_;
  for (const auto& w : c.warnings) std::fprintf(stderr, "[zeroshard] warning: %s\n", w.c_str());
  std::fputs(describe_config(c, "[zeroshard] ").c_str(), stdout);  // as DeepSpeed's engine prints its config
  std::printf("[zeroshard] ZeRO stage %d | %s | %d rank(s) on %s (%s) | %.2fM trainable parameters\n", c.zero.stage,
              precision_name(c.precision), world_.size(), world_.device.str().c_str(), world_.comm->backend().c_str(),
              num_params_ / 1e6);
  std::printf("[zeroshard] batch %lld = micro %lld x accumulation %lld x %d ranks | optimizer %s lr %g | clip %g\n",
              (long long)c.train_batch_size, (long long)c.train_micro_batch_size_per_gpu,
              (long long)c.gradient_accumulation_steps, world_.size(), optimizer_ ? c.optimizer.type.c_str() : "?",
              c.optimizer.lr, c.gradient_clipping);
  if (optimizer_ && !optimizer_->offload_summary().empty())
    std::printf("[zeroshard] %s\n", optimizer_->offload_summary().c_str());
  if (c.zero.offload_optimizer.super_offload) {
    const std::string obstacle = super_offload_obstacle();
    std::printf("[zeroshard] super_offload: %s\n",
                obstacle.empty() ? "each unit's CPU update starts in backward, once its gradient is reduced"
                                 : ("the CPU update runs after backward: " + obstacle).c_str());
  }
  if (param_swapper_) std::printf("[zeroshard] %s\n", param_swapper_->describe().c_str());
  if (codec_) std::printf("[zeroshard] %s\n", codec_->describe().c_str());
  for (const std::string& sink : sinks_->descriptions()) std::printf("[zeroshard] metrics to %s\n", sink.c_str());
  std::fflush(stdout);
}

}  // namespace zs
