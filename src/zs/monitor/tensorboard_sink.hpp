#pragma once
// TensorBoard event files: the `tensorboard` config block. Writes
//   <output_path>/<job_name>/events.out.tfevents.<unix time>.<host>.<pid>
// (output_path "" is the current directory, as in DeepSpeed): one Event per step holding a scalar
// Summary with DeepSpeed's tags (metric_sink.hpp), in TensorBoard's schema (tensorboard_event.hpp)
// and framed as TFRecords (tfrecord.hpp).
#include <memory>
#include <string>

#include "zs/monitor/metric_sink.hpp"
#include "zs/monitor/tfrecord.hpp"

namespace zs {

class TensorBoardSink : public MetricSink {
 public:
  // Creates the folder and the file (with its file_version record); throws std::runtime_error
  // naming the path when that fails.
  explicit TensorBoardSink(const std::string& log_dir);
  void write(const StepStats& stats) override;
  const std::string& path() const { return writer_->path(); }

 private:
  std::unique_ptr<TfRecordWriter> writer_;
};

}  // namespace zs
