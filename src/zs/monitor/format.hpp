#pragma once
// Human-readable numbers for logs: "123.4k", "1.23 GiB", "1h02m".
#include <cstdint>
#include <string>

namespace zs {

std::string printf_string(const char* format, ...) __attribute__((format(printf, 1, 2)));

// 950 -> "950", 123456 -> "123.5k", 2.5e6 -> "2.50M", 3.1e9 -> "3.10G"
std::string format_si(double value);
// Bytes in GiB with two decimals: "1.23 GiB".
std::string format_gib(int64_t bytes);
// Seconds as "45s", "12m05s", "3h02m".
std::string format_duration(double seconds);

}  // namespace zs
