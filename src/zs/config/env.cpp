#include "zs/config/env.hpp"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace zs {

std::optional<int64_t> positive_int_from_env(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(value, &end, 10);
  if (end == value || *end != '\0' || errno == ERANGE || n <= 0)
    throw std::invalid_argument(std::string(name) + " must be a positive integer, got \"" + value + "\"");
  return static_cast<int64_t>(n);
}

bool switch_from_env(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) return true;
  const std::string v = value;
  if (v == "0" || v == "1") return v == "1";
  throw std::invalid_argument(std::string(name) + " must be 0 (off) or 1 (on), got \"" + v + "\"");
}

}  // namespace zs
