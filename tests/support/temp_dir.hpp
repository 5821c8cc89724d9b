// A fresh folder under /tmp for one test, removed with everything in it when the test ends.
// POSIX calls, not std::filesystem: the pip LibTorch exports its own std::filesystem symbols,
// which crash when mixed with g++ 13's headers on the GPU machine.
#pragma once

#include <ftw.h>
#include <stdlib.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace zs::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "test") {
    std::string pattern = "/tmp/zs_" + tag + "_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    ::nftw(path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return std::remove(p); }, 16,
           FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  operator std::string() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  std::string operator+(const std::string& rest) const { return path_ + rest; }

 private:
  std::string path_;
};

}  // namespace zs::testing
