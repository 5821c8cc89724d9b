#pragma once
// Where the step statistics go besides the terminal line: TensorBoard event files, CSV files and
// a JSON-lines log (rank 0 only, as DeepSpeed's monitors). The engine hands every finished step to
// each sink; a sink writes it at once, so a run that dies keeps every step it finished.
#include <cstdint>
#include <string>
#include <vector>

#include "zs/monitor/step_stats.hpp"

namespace zs {

class MetricSink {
 public:
  virtual ~MetricSink() = default;
  virtual void write(const StepStats& stats) = 0;
};

// One (tag, value, x) point, as DeepSpeed's monitors take them.
struct MetricEvent {
  std::string tag;
  double value = 0;
  int64_t step = 0;
};

// DeepSpeed's events of one step, on its x axis (samples trained so far):
//   Train/Samples/train_loss, Train/Samples/lr, Train/Samples/loss_scale (fp16 only), and
//   Train/Samples/grad_norm (when computed) and Train/Samples/<name> for each extra value.
std::vector<MetricEvent> deepspeed_events(const StepStats& stats);

}  // namespace zs
