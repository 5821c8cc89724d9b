// Time limits of the tests, scaled for slow builds: ZS_TEST_TIME_SCALE (a number >= 1, default 1)
// multiplies every limit a test puts on how long a run may take, so a sanitized build
// (scripts/sanitize.sh sets it) checks the same outcomes with proportionally more time. A timeout
// the test hands to the program itself (ZS_COMM_TIMEOUT=3 ...) is what it checks, and is not scaled.
#pragma once

#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace zs::testing {

inline double time_scale() {
  static const double scale = [] {
    const char* text = std::getenv("ZS_TEST_TIME_SCALE");
    if (text == nullptr || *text == '\0') return 1.0;
    char* end = nullptr;
    const double s = std::strtod(text, &end);
    if (*end != '\0' || !(s >= 1.0) || !std::isfinite(s)) {
      throw std::invalid_argument(std::string("ZS_TEST_TIME_SCALE=") + text + " is not a number >= 1");
    }
    return s;
  }();
  return scale;
}

// `seconds` times the scale: a test's limit on a run's wall time.
inline double time_limit(double seconds) { return seconds * time_scale(); }

// The same, in whole seconds (rounded up): a time limit for a child process.
inline int time_limit_s(int seconds) { return static_cast<int>(std::ceil(seconds * time_scale())); }

}  // namespace zs::testing
