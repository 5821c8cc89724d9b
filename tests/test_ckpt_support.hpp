// Shared by the checkpoint tests: runs of tests/progs/ckpt_tiny (the tiny GPT with checkpoints)
// through zsrun, with the equivalence tests' configs.
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/equivalence.hpp"
#include "support/run_ranks.hpp"

namespace zs::testing {

struct TinyRun {
  RunResult run;
  nlohmann::json result;   // rank 0's JSON (null when the run failed)
};

// ckpt_tiny under `setup` (world size, stage, dtype) with extra arguments; its files go in `dir`.
// `config_text` replaces the setup's config when given (the world size still comes from `setup`).
inline TinyRun run_tiny(const RunSetup& setup, const std::string& dir, const std::string& name, const std::string& args,
                        const std::string& config_text = "") {
  const std::string config = dir + "/" + name + ".config.json", out = dir + "/" + name + ".json";
  write_text(config, config_text.empty() ? config_json(setup) : config_text);
  std::remove(out.c_str());
  TinyRun r;
  r.run = run_ranks(setup.world, bin("tests/ckpt_tiny") + " --config " + config + " --out " + out + " " + args, 300);
  if (r.run.exit_code == 0) r.result = read_json(out);
  return r;
}

inline RunSetup setup_of(int world, int stage, const std::string& dtype = "fp32") {
  RunSetup s;
  s.world = world;
  s.stage = stage;
  s.dtype = dtype;
  return s;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
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
