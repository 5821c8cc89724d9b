// The Hugging Face side of the interchange tests: the Python environment with transformers
// (scripts/hf_venv.sh makes it once, git-ignored) and the reference checkpoints transformers
// writes (tests/hf/hf_reference.py), made once per build by the HfReferences ctest fixture.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "support/run_ranks.hpp"
#include "zs/ckpt/file_io.hpp"

namespace zs::testing {

// The environment's python (made on first use; later calls cost a file check).
inline const std::string& hf_python() {
  static const std::string python = [] {
    const RunResult r = run_command(std::string(ZS_SOURCE_DIR) + "/scripts/hf_venv.sh", 1800);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::string out = r.output;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out.substr(out.find_last_of('\n') + 1);
  }();
  return python;
}

// `python tests/hf/hf_reference.py <args>`; fails the test on a non-zero exit.
inline RunResult hf_reference(const std::string& args) {
  const RunResult r = run_command(hf_python() + " " + std::string(ZS_SOURCE_DIR) + "/tests/hf/hf_reference.py " + args, 600);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r;
}

// The reference checkpoints' folder (the fixture's; made here when a test runs on its own).
inline const std::string& hf_references() {
  static const std::string dir = [] {
    const std::string fixture = std::string(ZS_BIN_DIR) + "/../hf_references";
    if (zs::path_exists(fixture + "/complete")) return fixture;
    const std::string made = temp_dir("hf_references");
    hf_reference("make " + made);
    return made;
  }();
  return dir;
}

}  // namespace zs::testing
