#pragma once
// A JSON-lines log: one object per step, appended to a file (EngineOptions::metrics_jsonl; train_gpt
// --log_jsonl). Keys: step, samples (trained so far), loss, lr, loss_scale, grad_norm (when
// computed), skipped, seconds (the step's wall time), tokens (in the step), then each extra value
// under its own name (tokens_per_second, mfu, elapsed_time_ms_forward, ...).
#include <cstdio>
#include <string>

#include "zs/monitor/metric_sink.hpp"

namespace zs {

class JsonLinesSink : public MetricSink {
 public:
  // Creates the parent folder and opens the file for appending; throws std::runtime_error naming
  // the path when that fails.
  explicit JsonLinesSink(const std::string& path);
  ~JsonLinesSink() override;
  JsonLinesSink(const JsonLinesSink&) = delete;
  JsonLinesSink& operator=(const JsonLinesSink&) = delete;

  void write(const StepStats& stats) override;
  static std::string line(const StepStats& stats);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace zs
