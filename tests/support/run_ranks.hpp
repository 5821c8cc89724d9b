// Helpers for multi-process tests: run a program under zsrun with N CPU ranks, capture its
// output, and read the JSON files it writes.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "support/files.hpp"
#include "support/time_scale.hpp"

namespace zs::testing {

struct RunResult {
  int exit_code = -1;
  std::string output;
  double seconds = 0;   // wall time
};

// Runs a shell command with a time limit (seconds, scaled by ZS_TEST_TIME_SCALE: time_scale.hpp),
// returning its exit code and combined output (the limit makes a broken program fail its test
// instead of hanging it).
inline RunResult run_command(const std::string& command, int timeout_s = 300) {
  RunResult r;
  const auto start = std::chrono::steady_clock::now();
  const std::string full = "timeout -k 5 " + std::to_string(time_limit_s(timeout_s)) + " " + command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

inline std::string bin(const std::string& name) { return std::string(ZS_BIN_DIR) + "/" + name; }

// `program args` on `ranks` ranks through the real launcher (1 rank: a plain process).
// `launcher_flag`: "--num_procs" for CPU ranks, "--num_gpus" for one GPU per rank.
inline RunResult run_ranks(int ranks, const std::string& program_and_args, int timeout_s = 300,
                           const std::string& launcher_flag = "--num_procs") {
  if (ranks == 1) return run_command(program_and_args, timeout_s);
  return run_command(bin("zsrun") + " " + launcher_flag + " " + std::to_string(ranks) + " " + program_and_args, timeout_s);
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  return nlohmann::json::parse(in);
}

inline std::string temp_dir(const std::string& tag) {
  std::string pattern = "/tmp/zs_" + tag + "_XXXXXX";
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

}  // namespace zs::testing
