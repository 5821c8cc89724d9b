// A progress bar that zsrun draws on its own terminal from rank 0's step lines ("step 12/600 | ...").
// The ranks write into zsrun's pipes and cannot see that a person is watching, so the bar is the
// launcher's: drawn on stderr beneath the ranks' lines when stderr is a terminal, erased before each
// new line and redrawn after it, erased for good when the job ends. ZS_PROGRESS=0 turns it off.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace zs::launcher {

class TerminalProgress {
 public:
  explicit TerminalProgress(bool enabled) : enabled_(enabled) {}
  // Enabled when stderr is a terminal and ZS_PROGRESS is not "0".
  static TerminalProgress for_stderr();

  void before_line();                       // erases the bar, if drawn
  void after_line(const std::string& text); // a step line moves the bar; redraws it
  void finish();                            // erases it and draws no more

  // "step 12/600 | loss ..." (after any "[rank 0] " prefix) -> {12, 600}.
  static std::optional<std::pair<int64_t, int64_t>> parse_step(const std::string& text);
  // "steps [#####.....] 12/600  3.1 steps/s  ETA 3m10s" in `width` columns of bar.
  static std::string render(int64_t done, int64_t total, double steps_per_second, int width = 30);

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  bool drawn_ = false;
  int64_t done_ = -1, total_ = 0;
  int64_t first_done_ = -1;
  Clock::time_point first_at_;
  double rate_ = 0;
};

}  // namespace zs::launcher
