// Cuts a byte stream (a child's pipe) into whole lines, so lines from different ranks never mix.
#pragma once

#include <string>
#include <vector>

namespace zs::launcher {

class LineSplitter {
 public:
  // A line longer than `max_line` without a newline is passed on in pieces (a stuck progress bar
  // must not grow the buffer without bound).
  static constexpr size_t kMaxLine = 64 * 1024;
  explicit LineSplitter(size_t max_line = kMaxLine) : max_line_(max_line) {}

  // Appends bytes; returns the lines completed by them, without their '\n'.
  std::vector<std::string> feed(const char* data, size_t n);
  // End of stream: the unfinished last line, if any.
  std::vector<std::string> finish();

 private:
  std::string pending_;
  size_t max_line_;
};

}  // namespace zs::launcher
