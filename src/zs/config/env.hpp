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

// An on/off switch for a feature that is on by default (ZS_FUSED_CROSS_ENTROPY=0 turns a kernel
// off for comparisons): false for "0", true for "1", unset or empty. Throws std::invalid_argument
// for anything else.
bool switch_from_env(const char* name);

}  // namespace zs
