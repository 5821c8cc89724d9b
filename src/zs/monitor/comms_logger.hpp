#pragma once
// comms_logger: every collective's type, message size and time, as the communicator reports them
// (dist/communicator.hpp, CollectiveObserver), summed per type and message size:
//   count, bytes, total and mean latency, algorithmic bandwidth (bytes / time) and bus bandwidth
//   (nccl-tests' convention: all_reduce x 2(n-1)/n, reduce_scatter, all_gather and all_to_all x
//   (n-1)/n, broadcast x 1; message size: the gathered output of an all_gather, the input of a
//   reduce_scatter or all_to_all). ZeRO++'s group collectives (node and cross-node groups) are
//   counted too, with the world's n in the bus factor.
// Bandwidths are in GB/s (1e9 bytes per second), as nccl-tests prints them. With `verbose` rank 0
// prints a line per collective as it finishes; summary() is the table printed at the end of a run.
// wall_clock_breakdown uses the same observer, with logging off, for the communication time of a step.
#include <cstdint>
#include <iosfwd>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "zs/config/config.hpp"
#include "zs/dist/communicator.hpp"

namespace zs {

struct CommsRow {
  std::string op;
  int64_t message_bytes = 0;
  int64_t count = 0;
  double total_seconds = 0;
  double algbw_gbps = 0;   // GB/s
  double busbw_gbps = 0;   // GB/s
};

class CommsLogger : public CollectiveObserver {
 public:
  // `config.enabled` false: only the communication time is kept (no lines, no table).
  // Lines go to `out` (default std::cout) on rank 0.
  CommsLogger(const CommsLoggerConfig& config, int rank, int world_size, std::ostream* out = nullptr);

  void finished(const char* op, int64_t bytes, double seconds) override;

  // Seconds of the collectives that finished since the last call (every collective, logged or not).
  double take_seconds();
  // One row per (type, message size), by type then size.
  std::vector<CommsRow> rows() const;
  // The table of rows(), with a title line; "" when nothing was logged.
  std::string summary() const;
  bool logging() const { return config_.enabled; }

  // nccl-tests' bus bandwidth factor of `op` on n ranks.
  static double bus_factor(const std::string& op, int n);

 private:
  bool logged(const std::string& op) const;

  CommsLoggerConfig config_;
  int rank_, world_size_;
  std::ostream* out_;
  mutable std::mutex mutex_;
  double seconds_since_take_ = 0;
  struct Totals {
    int64_t count = 0;
    double seconds = 0;
  };
  std::map<std::pair<std::string, int64_t>, Totals> totals_;
};

}  // namespace zs
