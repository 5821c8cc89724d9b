#include "zs/monitor/metric_sink.hpp"

namespace zs {

std::vector<MetricEvent> deepspeed_events(const StepStats& s) {
  const int64_t x = s.global_samples;
  std::vector<MetricEvent> events{{"Train/Samples/train_loss", s.loss, x}, {"Train/Samples/lr", s.lr, x}};
  if (s.loss_scaling) events.push_back({"Train/Samples/loss_scale", s.loss_scale, x});
  if (s.grad_norm >= 0) events.push_back({"Train/Samples/grad_norm", s.grad_norm, x});
  for (const auto& [name, value] : s.extras) events.push_back({"Train/Samples/" + name, value, x});
  return events;
}

}  // namespace zs
