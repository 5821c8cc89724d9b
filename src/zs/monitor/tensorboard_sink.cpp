#include "zs/monitor/tensorboard_sink.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "zs/monitor/tensorboard_event.hpp"

namespace zs {
namespace {

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

}  // namespace

TensorBoardSink::TensorBoardSink(const std::string& log_dir) {
  std::error_code error;
  std::filesystem::create_directories(log_dir, error);
  if (error) throw std::runtime_error("tensorboard: cannot create " + log_dir + ": " + error.message());
  const double now = unix_seconds();
  const std::string file = "events.out.tfevents." + std::to_string(static_cast<long long>(now)) + "." + host_name() +
                           "." + std::to_string(::getpid());
  writer_ = std::make_unique<TfRecordWriter>((std::filesystem::path(log_dir) / file).string());
  // The first record says which format follows, as every event file starts.
  writer_->write(encode_file_version_event(now));
}

void TensorBoardSink::write(const StepStats& stats) {
  const std::vector<MetricEvent> events = deepspeed_events(stats);
  if (events.empty()) return;
  writer_->write(encode_scalars_event(unix_seconds(), events.front().step, events));
}

}  // namespace zs
