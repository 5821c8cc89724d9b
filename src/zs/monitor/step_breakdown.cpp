#include "zs/monitor/step_breakdown.hpp"

#include <algorithm>

#include "zs/monitor/comms_logger.hpp"
#include "zs/monitor/format.hpp"

namespace zs {
namespace {

double gib(int64_t bytes) { return double(bytes) / double(1 << 30); }

}  // namespace

StepBreakdown::StepBreakdown(c10::Device device, bool wall_clock, bool memory, std::shared_ptr<CommsLogger> comms,
                             int rank, int64_t steps_per_print)
    : device_(device), memory_(memory), comms_(std::move(comms)), rank_(rank), steps_per_print_(steps_per_print) {
  if (wall_clock) timer_ = std::make_unique<PhaseTimer>(device);
  if (comms_) comms_->take_seconds();   // what came before the first step is not the step's
  if (memory_) reset_peak_memory(device_);
}

void StepBreakdown::end(Phase phase) {
  if (timer_) timer_->end(phase);
  if (!memory_) return;
  const MemoryStats now = device_memory(device_);
  MemoryStats& m = phase_memory_[int(phase)];
  m.allocated = now.allocated;
  m.reserved = now.reserved;
  m.peak_allocated = std::max(m.peak_allocated, now.peak_allocated);
  reset_peak_memory(device_);   // the next phase's peak is its own
}

std::vector<std::string> StepBreakdown::finish_step(int64_t step, std::vector<std::pair<std::string, double>>& extras) {
  std::vector<std::string> lines;
  const bool print = rank_ == 0 && step % steps_per_print_ == 0;
  if (timer_) {
    const std::array<double, kPhases> seconds = timer_->finish_step();
    const double comm = comms_ ? comms_->take_seconds() : 0.0;
    double total = 0;
    for (int p = 0; p < kPhases; ++p) {
      extras.emplace_back(std::string("elapsed_time_ms_") + phase_name(Phase(p)), 1e3 * seconds[p]);
      window_seconds_[p] += seconds[p];
      total += seconds[p];
    }
    extras.emplace_back("elapsed_time_ms_communication", 1e3 * comm);
    window_comm_seconds_ += comm;
    window_total_seconds_ += total;
    window_steps_ += 1;
    if (print) {
      const double n = double(window_steps_);
      std::string line = "[zeroshard] time (ms)";
      for (int p = 0; p < kPhases; ++p) line += printf_string(" | %s: %.2f", phase_name(Phase(p)), 1e3 * window_seconds_[p] / n);
      line += printf_string(" | sum: %.2f | communication: %.2f (overlaps the phases) | mean of %lld step(s)",
                            1e3 * window_total_seconds_ / n, 1e3 * window_comm_seconds_ / n,
                            static_cast<long long>(window_steps_));
      lines.push_back(line);
      window_steps_ = 0;
      window_seconds_ = {};
      window_comm_seconds_ = window_total_seconds_ = 0;
    }
  }
  if (memory_) {
    const int64_t host_rss = device_memory(c10::Device(c10::kCPU)).allocated;
    std::string line = device_.is_cuda() ? "[zeroshard] memory (GiB)" : "[zeroshard] memory (GiB, the process's resident memory)";
    for (int p = 0; p < kPhases; ++p) {
      const MemoryStats& m = phase_memory_[p];
      const std::string name = phase_name(Phase(p));
      extras.emplace_back("memory_allocated_gib_" + name, gib(m.allocated));
      extras.emplace_back("memory_reserved_gib_" + name, gib(m.reserved));
      extras.emplace_back("memory_peak_gib_" + name, gib(m.peak_allocated));
      line += printf_string(" | after %s: allocated %.2f, reserved %.2f, peak %.2f", name.c_str(), gib(m.allocated),
                            gib(m.reserved), gib(m.peak_allocated));
    }
    extras.emplace_back("host_rss_gib", gib(host_rss));
    line += printf_string(" | host RSS %.2f", gib(host_rss));
    if (print) lines.push_back(line);
    phase_memory_ = {};
  }
  return lines;
}

}  // namespace zs
