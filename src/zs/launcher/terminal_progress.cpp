#include "zs/launcher/terminal_progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <regex>

#include "zs/launcher/run_job.hpp"

namespace zs::launcher {
namespace {

std::string duration_text(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof(buf), "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof(buf), "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof(buf), "%lds", s);
  return buf;
}

}  // namespace

TerminalProgress TerminalProgress::for_stderr() {
  const char* off = std::getenv("ZS_PROGRESS");
  return TerminalProgress(::isatty(STDERR_FILENO) == 1 && !(off && std::string(off) == "0"));
}

std::optional<std::pair<int64_t, int64_t>> TerminalProgress::parse_step(const std::string& text) {
  static const std::regex step(R"(^(?:\[[^\]]*\] )?step (\d+)/(\d+) \|)");
  std::smatch m;
  if (!std::regex_search(text, m, step)) return std::nullopt;
  try {
    return std::make_pair(std::stoll(m[1]), std::stoll(m[2]));
  } catch (const std::exception&) {  // digits past int64: not a step line of ours
    return std::nullopt;
  }
}

std::string TerminalProgress::render(int64_t done, int64_t total, double steps_per_second, int width) {
  const double fraction = total > 0 ? std::clamp(double(done) / double(total), 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(fraction * width);
  std::string bar = "steps [" + std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.') + "] " +
                    std::to_string(done) + "/" + std::to_string(total);
  if (steps_per_second > 0) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "  %.2f steps/s  ETA %s", steps_per_second,
                  duration_text(double(total - done) / steps_per_second).c_str());
    bar += buf;
  }
  return bar;
}

void TerminalProgress::before_line() {
  if (!drawn_) return;
  write_all(STDERR_FILENO, "\r\033[K");  // back to the line's start, erase it
  drawn_ = false;
}

void TerminalProgress::after_line(const std::string& text) {
  if (!enabled_) return;
  if (const auto step = parse_step(text)) {
    const auto now = Clock::now();
    if (first_done_ < 0 || step->first < done_) {  // the first step line (or a restarted run)
      first_done_ = step->first;
      first_at_ = now;
      rate_ = 0;
    } else if (step->first > first_done_) {
      rate_ = double(step->first - first_done_) / std::chrono::duration<double>(now - first_at_).count();
    }
    done_ = step->first;
    total_ = step->second;
  }
  if (done_ < 0 || done_ >= total_) return;  // nothing to show, or the run is through
  write_all(STDERR_FILENO, render(done_, total_, rate_));
  drawn_ = true;
}

void TerminalProgress::finish() {
  before_line();
  enabled_ = false;
}

}  // namespace zs::launcher
