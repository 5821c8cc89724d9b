#pragma once
// wall_clock_breakdown's clock: how a training step's time splits into forward, backward and the
// optimizer step. Marks are taken on the device's timeline: CUDA events on the current stream on a
// GPU (the time the GPU spent, however far the host ran ahead), the steady clock on a CPU. Each
// mark ends the phase that ran since the previous mark, so the phases partition the step:
//   forward   from the end of the previous engine call to backward() (the program's forward,
//             and whatever it does between calls, such as fetching the batch)
//   backward  backward() (with the gradient reductions it waits for)
//   step      from there to the end of step() on the accumulation boundary (clipping, the update,
//             the parameter all-gather, the loss all-reduce)
// With gradient accumulation each phase sums over the step's micro-steps.
#include <c10/core/Device.h>

#include <array>
#include <chrono>
#include <memory>
#include <vector>

namespace zs {

enum class Phase { forward = 0, backward = 1, step = 2 };
constexpr int kPhases = 3;
const char* phase_name(Phase phase);

// A timeline of marks.
class DeviceMarks {
 public:
  virtual ~DeviceMarks() = default;
  // A new mark now (on the device's current stream).
  virtual void mark() = 0;
  // Seconds between consecutive marks since the previous call (the first from the mark that call
  // ended on), waiting for the device to reach the last one.
  virtual std::vector<double> intervals() = 0;
};

// The steady clock; the first mark is the construction.
std::unique_ptr<DeviceMarks> make_host_marks();
#ifdef ZS_WITH_CUDA
// CUDA events on the current stream of the device (phase_timer_cuda.cpp).
std::unique_ptr<DeviceMarks> make_cuda_marks(c10::DeviceIndex index);
#endif

class PhaseTimer {
 public:
  // Starts the clock (the first forward begins now).
  explicit PhaseTimer(c10::Device device);
  // Ends phase `phase` now; the next phase starts.
  void end(Phase phase);
  // Seconds per phase since the previous finish_step (waits for the device).
  std::array<double, kPhases> finish_step();

 private:
  std::unique_ptr<DeviceMarks> marks_;
  std::vector<Phase> ended_;   // the phase each mark since the last finish_step ended
};

}  // namespace zs
