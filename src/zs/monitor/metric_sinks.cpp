#include "zs/monitor/metric_sinks.hpp"

#include <filesystem>

#include "zs/monitor/csv_sink.hpp"
#include "zs/monitor/jsonl_sink.hpp"
#include "zs/monitor/tensorboard_sink.hpp"

namespace zs {

std::string MetricSinks::log_dir(const MonitorConfig& monitor) {
  return (std::filesystem::path(monitor.output_path) / monitor.job_name).string();
}

MetricSinks::MetricSinks(const Config& config, const std::string& jsonl_path, int rank) {
  if (rank != 0) return;
  if (config.tensorboard.enabled) {
    auto sink = std::make_unique<TensorBoardSink>(log_dir(config.tensorboard));
    descriptions_.push_back("tensorboard: " + sink->path());
    sinks_.push_back(std::move(sink));
  }
  if (config.csv_monitor.enabled) {
    auto sink = std::make_unique<CsvSink>(log_dir(config.csv_monitor));
    descriptions_.push_back("csv_monitor: " + sink->log_dir() + "/*.csv");
    sinks_.push_back(std::move(sink));
  }
  if (!jsonl_path.empty()) {
    sinks_.push_back(std::make_unique<JsonLinesSink>(jsonl_path));
    descriptions_.push_back("JSON lines: " + jsonl_path);
  }
}

void MetricSinks::write(const StepStats& stats) {
  for (const auto& sink : sinks_) sink->write(stats);
}

}  // namespace zs
