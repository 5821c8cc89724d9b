#include "zs/monitor/csv_sink.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace zs {

std::string number_text(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, result.ptr);
}

CsvSink::CsvSink(const std::string& log_dir) : log_dir_(log_dir) {
  std::error_code error;
  std::filesystem::create_directories(log_dir, error);
  if (error) throw std::runtime_error("csv_monitor: cannot create " + log_dir + ": " + error.message());
}

CsvSink::~CsvSink() {
  for (auto& [tag, file] : files_) std::fclose(file);
}

std::string CsvSink::file_name(const std::string& tag) {
  std::string name = tag;
  for (char& c : name)
    if (c == '/' || c == ' ') c = '_';
  return name + ".csv";
}

std::FILE* CsvSink::file_for(const std::string& tag) {
  auto it = files_.find(tag);
  if (it != files_.end()) return it->second;
  const std::string path = (std::filesystem::path(log_dir_) / file_name(tag)).string();
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (!file) throw std::runtime_error("csv_monitor: cannot open " + path + ": " + std::strerror(errno));
  std::fseek(file, 0, SEEK_END);
  if (std::ftell(file) == 0) {   // a new (or empty) file gets the header
    const std::string header = "step," + tag.substr(tag.find_last_of('/') + 1) + "\n";
    std::fputs(header.c_str(), file);
  }
  files_.emplace(tag, file);
  return file;
}

void CsvSink::write(const StepStats& stats) {
  for (const MetricEvent& e : deepspeed_events(stats)) {
    std::FILE* file = file_for(e.tag);
    const std::string row = std::to_string(e.step) + "," + number_text(e.value) + "\n";
    if (std::fputs(row.c_str(), file) < 0 || std::fflush(file) != 0)
      throw std::runtime_error("csv_monitor: cannot write to " + log_dir_ + "/" + file_name(e.tag) + ": " +
                               std::strerror(errno));
  }
}

}  // namespace zs
