// Tuning knobs read from the environment (ZS_* variables that are not part of a DeepSpeed config).
// A set but malformed value is an error that names the variable, never a silent default.
#pragma once

#include <cstdint>
#include <optional>

namespace zs {

// The variable's value as a positive integer; nullopt when it is unset or empty. Throws
// std::invalid_argument ("NAME must be a positive integer, got \"...\"") for anything else,
// trailing characters included.
std::optional<int64_t> positive_int_from_env(const char* name);

}  // namespace zs
