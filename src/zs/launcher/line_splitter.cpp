#include "zs/launcher/line_splitter.hpp"

namespace zs::launcher {

std::vector<std::string> LineSplitter::feed(const char* data, size_t n) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < n; ++i) {
    if (data[i] == '\n') {
      lines.push_back(std::move(pending_));
      pending_.clear();
    } else {
      pending_.push_back(data[i]);
      if (pending_.size() >= max_line_) {
        lines.push_back(std::move(pending_));
        pending_.clear();
      }
    }
  }
  return lines;
}

std::vector<std::string> LineSplitter::finish() {
  std::vector<std::string> lines;
  if (!pending_.empty()) lines.push_back(std::move(pending_));
  pending_.clear();
  return lines;
}

}  // namespace zs::launcher
