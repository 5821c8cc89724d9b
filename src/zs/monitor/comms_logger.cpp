#include "zs/monitor/comms_logger.hpp"

#include <algorithm>
#include <iostream>

#include "zs/monitor/format.hpp"

namespace zs {
namespace {

// "4.00 MiB", "512 B"
std::string size_text(int64_t bytes) {
  const double b = double(bytes);
  if (bytes < 1024) return printf_string("%lld B", static_cast<long long>(bytes));
  if (b < 1024.0 * 1024) return printf_string("%.2f KiB", b / 1024);
  if (b < 1024.0 * 1024 * 1024) return printf_string("%.2f MiB", b / (1024 * 1024));
  return printf_string("%.2f GiB", b / (1024.0 * 1024 * 1024));
}

}  // namespace

CommsLogger::CommsLogger(const CommsLoggerConfig& config, int rank, int world_size, std::ostream* out)
    : config_(config), rank_(rank), world_size_(world_size), out_(out ? out : &std::cout) {}

double CommsLogger::bus_factor(const std::string& op, int n) {
  if (n <= 1) return 0.0;
  if (op == "all_reduce") return 2.0 * (n - 1) / n;
  if (op == "reduce_scatter" || op == "all_gather" || op == "all_to_all") return double(n - 1) / n;
  return 1.0;
}

bool CommsLogger::logged(const std::string& op) const {
  if (!config_.enabled) return false;
  if (config_.prof_all) return true;
  return std::find(config_.prof_ops.begin(), config_.prof_ops.end(), op) != config_.prof_ops.end();
}

void CommsLogger::finished(const char* op, int64_t bytes, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  seconds_since_take_ += seconds;
  if (!logged(op)) return;
  Totals& t = totals_[{op, bytes}];
  t.count += 1;
  t.seconds += seconds;
  if (config_.verbose && rank_ == 0) {
    const double algbw = seconds > 0 ? double(bytes) / seconds / 1e9 : 0.0;
    *out_ << printf_string("[zeroshard] comm op: %s | time (ms): %.3f | msg size: %s | algbw (GB/s): %.2f | busbw (GB/s): %.2f\n",
                           op, 1e3 * seconds, size_text(bytes).c_str(), algbw, algbw * bus_factor(op, world_size_))
          << std::flush;
  }
}

double CommsLogger::take_seconds() {
  std::lock_guard<std::mutex> lock(mutex_);
  const double s = seconds_since_take_;
  seconds_since_take_ = 0;
  return s;
}

std::vector<CommsRow> CommsLogger::rows() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<CommsRow> rows;
  for (const auto& [key, t] : totals_) {
    CommsRow r;
    r.op = key.first;
    r.message_bytes = key.second;
    r.count = t.count;
    r.total_seconds = t.seconds;
    if (t.seconds > 0) r.algbw_gbps = double(key.second) * double(t.count) / t.seconds / 1e9;
    r.busbw_gbps = r.algbw_gbps * bus_factor(r.op, world_size_);
    rows.push_back(r);
  }
  return rows;
}

std::string CommsLogger::summary() const {
  const std::vector<CommsRow> rows = this->rows();
  if (rows.empty()) return "";
  std::string text = printf_string("[zeroshard] comms_logger summary (rank %d of %d; bandwidths in GB/s, nccl-tests' bus "
                                   "bandwidth)\n",
                                   rank_, world_size_);
  text += printf_string("%-16s %14s %8s %18s %16s %12s %12s\n", "Comm. Op", "Message Size", "Count",
                        "Total Latency(ms)", "Avg Latency(ms)", "algbw", "busbw");
  std::string last_op;
  for (const CommsRow& r : rows) {
    text += printf_string("%-16s %14s %8lld %18.3f %16.3f %12.2f %12.2f\n", r.op == last_op ? "" : r.op.c_str(),
                          size_text(r.message_bytes).c_str(), static_cast<long long>(r.count), 1e3 * r.total_seconds,
                          1e3 * r.total_seconds / double(r.count), r.algbw_gbps, r.busbw_gbps);
    last_op = r.op;
  }
  return text;
}

}  // namespace zs
