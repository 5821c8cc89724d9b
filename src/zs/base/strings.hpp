// Small string helpers the layers share: names compared without case (config keys, file
// suffixes) and tensor shapes in messages. Header-only and standard C++ only: any layer may use it.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

namespace zs {

// `s` with ASCII letters lowercased ("AdamW" -> "adamw"); other bytes unchanged.
inline std::string ascii_lowercase(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "[4, 768]": a shape for messages.
inline std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace zs
