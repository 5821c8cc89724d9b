#include "zs/monitor/phase_timer.hpp"

#include <stdexcept>

namespace zs {
namespace {

class HostMarks : public DeviceMarks {
 public:
  HostMarks() : marks_{Clock::now()} {}
  void mark() override { marks_.push_back(Clock::now()); }
  std::vector<double> intervals() override {
    std::vector<double> out;
    for (size_t i = 1; i < marks_.size(); ++i)
      out.push_back(std::chrono::duration<double>(marks_[i] - marks_[i - 1]).count());
    marks_ = {marks_.back()};
    return out;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> marks_;
};

}  // namespace

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::forward: return "forward";
    case Phase::backward: return "backward";
    case Phase::step: return "step";
  }
  return "?";
}

std::unique_ptr<DeviceMarks> make_host_marks() { return std::make_unique<HostMarks>(); }

PhaseTimer::PhaseTimer(c10::Device device) {
  if (device.is_cuda()) {
#ifdef ZS_WITH_CUDA
    marks_ = make_cuda_marks(device.has_index() ? device.index() : 0);
#else
    throw std::runtime_error("wall_clock_breakdown: this ZeroShard build has no CUDA support");
#endif
  } else {
    marks_ = make_host_marks();
  }
}

void PhaseTimer::end(Phase phase) {
  marks_->mark();
  ended_.push_back(phase);
}

std::array<double, kPhases> PhaseTimer::finish_step() {
  std::array<double, kPhases> seconds{};
  const std::vector<double> intervals = marks_->intervals();
  for (size_t i = 0; i < intervals.size() && i < ended_.size(); ++i) seconds[int(ended_[i])] += intervals[i];
  ended_.clear();
  return seconds;
}

}  // namespace zs
