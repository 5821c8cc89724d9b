#include "zs/monitor/progress_bar.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "zs/monitor/format.hpp"

namespace zs {

ProgressBar::ProgressBar(int64_t total, bool enabled, std::string label)
    : total_(total), active_(enabled && total > 0 && ::isatty(STDERR_FILENO) == 1), label_(std::move(label)) {}

ProgressBar::~ProgressBar() { finish(); }

std::string ProgressBar::render(const std::string& label, int64_t done, int64_t total, double elapsed_seconds,
                                int width, const std::string& suffix) {
  const double fraction = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 0.0;
  const int inner = std::max(1, width - 2);
  const int filled = static_cast<int>(fraction * inner);
  std::string bar = label + " [" + std::string(static_cast<size_t>(filled), '#') +
                    std::string(static_cast<size_t>(inner - filled), '.') + "]";
  bar += printf_string(" %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
  if (done > 0 && elapsed_seconds > 0.0) {
    const double rate = static_cast<double>(done) / elapsed_seconds;
    bar += printf_string("  %.2f it/s  ETA %s", rate,
                         format_duration(static_cast<double>(total - done) / rate).c_str());
  }
  if (!suffix.empty()) bar += "  " + suffix;
  return bar;
}

void ProgressBar::update(int64_t done, const std::string& suffix) {
  if (!active_ || finished_) return;
  if (drawn_ && done < total_ && since_draw_.seconds() < 0.1) return;
  since_draw_.restart();
  const auto text = render(label_, done, total_, since_start_.seconds(), 30, suffix);
  std::fprintf(stderr, "\r\033[K%s", text.c_str());  // \033[K: erase the rest of the old line
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!active_ || !drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

void ProgressBar::finish() {
  if (!active_ || finished_) return;
  finished_ = true;
  if (drawn_) {
    std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }
}

}  // namespace zs
