#pragma once
// The metric sinks a run's config asks for, made on rank 0 (other ranks write nothing, as DeepSpeed):
//   tensorboard  {enabled, output_path, job_name}  -> TensorBoardSink in <output_path>/<job_name>
//   csv_monitor  {enabled, output_path, job_name}  -> CsvSink in <output_path>/<job_name>
//   a JSON-lines path (EngineOptions::metrics_jsonl) -> JsonLinesSink
// (wandb and comet are refused by the config reader: there is no C++ client for them.)
#include <memory>
#include <string>
#include <vector>

#include "zs/config/config.hpp"
#include "zs/monitor/metric_sink.hpp"

namespace zs {

class MetricSinks {
 public:
  MetricSinks() = default;
  // Builds the sinks (rank 0 only; an empty list elsewhere). Throws std::runtime_error naming the
  // path a sink cannot create.
  MetricSinks(const Config& config, const std::string& jsonl_path, int rank);

  bool empty() const { return sinks_.empty(); }
  void write(const StepStats& stats);
  // One line per sink: where it writes.
  const std::vector<std::string>& descriptions() const { return descriptions_; }

  // DeepSpeed's folder of a monitor: output_path/job_name ("" is the current directory).
  static std::string log_dir(const MonitorConfig& monitor);

 private:
  std::vector<std::unique_ptr<MetricSink>> sinks_;
  std::vector<std::string> descriptions_;
};

}  // namespace zs
