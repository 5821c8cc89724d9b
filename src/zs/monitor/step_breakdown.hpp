#pragma once
// wall_clock_breakdown and memory_breakdown: where a training step's time and memory go.
//   wall_clock_breakdown  forward, backward and optimizer-step times (phase_timer.hpp: CUDA events
//                         on GPUs, the steady clock on CPUs; they partition the step) and the time
//                         spent in collectives (from the communicator, comms_logger.hpp; it
//                         overlaps the phases, so it is not part of their sum; a collective counts
//                         when the communicator sees it finished: on GPUs at the next launch or
//                         within 0.1 s, so a step's last ones may count for the next step)
//   memory_breakdown      device memory after each phase: allocated, reserved (the caching
//                         allocator's; on CPUs the process's resident memory) and the peak reached
//                         during the phase; and the host's resident memory (RSS)
// Every step's numbers go to the metric sinks (StepStats::extras, as Train/Samples/elapsed_time_ms_*
// and Train/Samples/memory_*_gib_*); every steps_per_print steps rank 0 prints their means over
// the steps since the last print, as DeepSpeed prints its timers.
#include <c10/core/Device.h>

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "zs/monitor/memory.hpp"
#include "zs/monitor/phase_timer.hpp"

namespace zs {

class CommsLogger;

class StepBreakdown {
 public:
  // `comms` (may be null) gives the communication time. Starts the clock.
  StepBreakdown(c10::Device device, bool wall_clock, bool memory, std::shared_ptr<CommsLogger> comms, int rank,
                int64_t steps_per_print);

  // Phase `phase` ended now.
  void end(Phase phase);
  // The step `step` ended with the last end(Phase::step): its numbers are appended to `extras`;
  // returns the lines to print (on rank 0 every steps_per_print steps; else none). Waits for the device.
  std::vector<std::string> finish_step(int64_t step, std::vector<std::pair<std::string, double>>& extras);

 private:
  c10::Device device_;
  bool memory_;
  std::shared_ptr<CommsLogger> comms_;
  int rank_;
  int64_t steps_per_print_;
  std::unique_ptr<PhaseTimer> timer_;
  // This step's memory after each phase (peak: the highest over the step's micro-steps).
  std::array<MemoryStats, kPhases> phase_memory_{};
  // Sums over the print window.
  int64_t window_steps_ = 0;
  std::array<double, kPhases> window_seconds_{};
  double window_comm_seconds_ = 0;
  double window_total_seconds_ = 0;
};

}  // namespace zs
