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

}  // namespace zs
