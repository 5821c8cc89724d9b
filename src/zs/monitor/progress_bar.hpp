#pragma once
// A one-line progress bar with rate and ETA on stderr, redrawn in place with '\r'. It draws only when
// enabled (pass rank == 0) and stderr is a terminal; in logs and pipes it stays silent, where the step
// lines already show progress.
#include <cstdint>
#include <string>

#include "zs/monitor/timer.hpp"

namespace zs {

class ProgressBar {
 public:
  ProgressBar(int64_t total, bool enabled, std::string label = "train");
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // done items of total; redraws at most ten times a second (and always at the end).
  void update(int64_t done, const std::string& suffix = "");
  // Erases the bar (before another line is printed); the next update draws it again.
  void clear();
  // Ends the bar's line.
  void finish();

  bool active() const { return active_; }

  // The bar's text: "train [#####.....]  50/100  12.3 it/s  ETA 4s  suffix", width counting the brackets.
  static std::string render(const std::string& label, int64_t done, int64_t total, double elapsed_seconds,
                            int width, const std::string& suffix);

 private:
  int64_t total_;
  bool active_;
  std::string label_;
  Stopwatch since_start_;
  Stopwatch since_draw_;
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace zs
