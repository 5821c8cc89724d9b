#pragma once
// CSV files: the `csv_monitor` config block, laid out as DeepSpeed's: in <output_path>/<job_name>/
// (output_path "" is the current directory) one file per tag, named after the tag with '/' and ' '
// made '_' (Train_Samples_train_loss.csv), with the header "step,<last part of the tag>" and one
// "x,value" row per step, x being the samples trained so far (DeepSpeed's x axis). Files are
// appended to (a resumed run continues them); the header is written when a file is new or empty.
#include <cstdio>
#include <map>
#include <string>

#include "zs/monitor/metric_sink.hpp"

namespace zs {

class CsvSink : public MetricSink {
 public:
  // Creates the folder; throws std::runtime_error naming it when that fails.
  explicit CsvSink(const std::string& log_dir);
  ~CsvSink() override;
  CsvSink(const CsvSink&) = delete;
  CsvSink& operator=(const CsvSink&) = delete;

  void write(const StepStats& stats) override;
  const std::string& log_dir() const { return log_dir_; }

  // "Train/Samples/train_loss" -> "Train_Samples_train_loss.csv"
  static std::string file_name(const std::string& tag);

 private:
  std::FILE* file_for(const std::string& tag);

  std::string log_dir_;
  std::map<std::string, std::FILE*> files_;
};

// The shortest text that reads back as the same double ("0.1", "65536", "1e-05").
std::string number_text(double value);

}  // namespace zs
