// Small files for tests: written whole, read whole, and damaged on purpose.
#pragma once

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace zs::testing {

// The bytes as they are (no newline translation).
inline void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The whole file; "" when it cannot be read.
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Flips one byte of a file in place.
inline void flip_byte(const std::string& path, long offset) {
  FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr) << path;
  std::fseek(f, offset, SEEK_SET);
  const int c = std::fgetc(f);
  std::fseek(f, offset, SEEK_SET);
  std::fputc(c ^ 0x5a, f);
  std::fclose(f);
}

}  // namespace zs::testing
