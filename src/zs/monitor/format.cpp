#include "zs/monitor/format.hpp"

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <vector>

namespace zs {

std::string printf_string(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::vector<char> buffer(static_cast<size_t>(n > 0 ? n : 0) + 1);
  std::vsnprintf(buffer.data(), buffer.size(), format, args);
  va_end(args);
  return std::string(buffer.data(), static_cast<size_t>(n > 0 ? n : 0));
}

std::string format_si(double value) {
  const double a = std::fabs(value);
  if (a >= 1e9) return printf_string("%.2fG", value / 1e9);
  if (a >= 1e6) return printf_string("%.2fM", value / 1e6);
  if (a >= 1e3) return printf_string("%.1fk", value / 1e3);
  return printf_string("%.0f", value);
}

std::string format_gib(int64_t bytes) {
  return printf_string("%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return printf_string("%llds", static_cast<long long>(s));
  if (s < 3600) return printf_string("%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return printf_string("%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>((s % 3600) / 60));
}

}  // namespace zs
