// The CPU benchmarks' thread counts: the cores this process may run on, and a --threads list.
#pragma once

#include <sched.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace zs::bench {

inline int affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
}

// "1,2,8" -> {1, 2, 8}; empty items are skipped, anything but a whole number >= 1 is refused
// (std::invalid_argument). May return none.
inline std::vector<int> parse_thread_counts(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    size_t used = 0;
    int t = 0;
    try {
      t = std::stoi(item, &used);
    } catch (const std::exception&) {
    }
    if (used != item.size() || t < 1) throw std::invalid_argument("a thread count must be a whole number >= 1, not '" + item + "'");
    out.push_back(t);
  }
  return out;
}

}  // namespace zs::bench
