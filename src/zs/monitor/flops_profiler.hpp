#pragma once
// flops_profiler: at step `profile_step`, the forward of the step's first micro-step is counted
// (flop_counter.hpp: exact per-operator formulas, per unit) and timed, and rank 0 prints a report
// laid out as DeepSpeed's profiler prints it, to stdout or `output_file`:
//   a summary: parameters, forward MACs and FLOPs per rank and per token, forward latency and
//     FLOPS, the training FLOPs per token ((3 + recompute_fwd_factor) x forward, as DeepSpeed
//     counts backward as twice the forward) beside the program's formula (6N + 12·L·d·T for the
//     GPT), the step's latency and the measured MFU;
//   the top `top_modules` modules at each depth up to `module_depth` by parameters, MACs and
//     latency;
//   with `detailed`, the module tree (to `module_depth`): parameters, MACs, latency, TFLOPS and
//     each one's share of the total. FLOPs and latency are known per unit (the modules the engine
//     runs, zero/unit.hpp) and for the model; modules inside a unit show their parameters only,
//     and a unit's line lists the operators its FLOPs come from.
#include <c10/core/Device.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "zs/config/config.hpp"
#include "zs/monitor/flop_counter.hpp"

namespace zs {

struct FlopsProfilerSetup {
  int rank = 0;
  int world_size = 1;
  int64_t micro_batch = 1;            // samples per micro-step per rank
  int64_t gradient_accumulation = 1;
  int64_t tokens_per_sample = 0;      // 0: no tokens (per-token figures left out)
  double formula_flops_per_token = 0; // the program's figure (EngineOptions::flops_per_token); 0: none
  double peak_flops = 0;              // per device; 0: no MFU
};

// What the profile found (also for tests and benchmarks).
struct FlopsProfile {
  int64_t step = 0;
  int64_t forward_flops = 0;          // one micro-step's forward on this rank
  double forward_seconds = 0;
  double step_seconds = 0;
  double training_flops_per_token = 0;  // (3 + recompute_fwd_factor) x forward / tokens
  std::optional<double> mfu;
};

class FlopsProfiler {
 public:
  // Reads the model's module tree and parameter counts now (before ZeRO partitions them).
  FlopsProfiler(const FlopsProfilerConfig& config, torch::nn::Module& model, c10::Device device, FlopsProfilerSetup setup);

  // The engine's calls: `steps_done` optimizer steps have finished (0 at construction); the
  // profiled forward starts when the next step is the profile step.
  void after_step(int64_t steps_done);
  // A backward starts: the profiled forward ends.
  void before_backward();
  // The profile step ended, `seconds` its wall time: writes the report (rank 0). Returns the profile.
  std::optional<FlopsProfile> finish_step(int64_t step, double seconds);

  // The report's text for a profile (public for tests).
  std::string report(const FlopsProfile& profile) const;

 private:
  struct ModuleInfo {
    std::string path;       // "" for the model
    std::string type;       // its class name
    int depth = 0;
    int64_t params = 0;
  };
  // FLOPs and latency of a module: the sum over the units at or under it (the model also gets
  // what ran outside units); empty when unknown (a module inside a unit).
  std::optional<ScopeFlops> measured(const ModuleInfo& m) const;
  std::string aggregated(int depth_limit) const;
  std::string detailed(int depth_limit) const;

  FlopsProfilerConfig config_;
  c10::Device device_;
  FlopsProfilerSetup setup_;
  std::vector<ModuleInfo> modules_;   // module order, the model first
  std::unique_ptr<FlopCounter> counter_;
  double forward_start_ = 0, forward_seconds_ = 0;
  bool counted_ = false;
  FlopsProfile last_;
};

}  // namespace zs
