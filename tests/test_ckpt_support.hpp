// Shared by the checkpoint tests: runs of tests/progs/ckpt_tiny (the tiny GPT with checkpoints)
// through zsrun, with the equivalence tests' configs.
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/equivalence.hpp"
#include "support/files.hpp"
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

// An exact-resume check: `total` uninterrupted steps, and `split` steps + save followed by a new
// process that loads and runs to `total`. The continuation's losses and final weights must equal
// the uninterrupted run's bit for bit (masters and optimizer state are saved in fp32). Returns
// the resumed run (null result on failure); the checkpoint is in dir + "/ck".
inline TinyRun expect_bitwise_resume(const RunSetup& setup, const std::string& dir, int total, int split,
                                     TinyRun* uninterrupted = nullptr) {
  const TinyRun reference = run_tiny(setup, dir, "reference", "--steps " + std::to_string(total));
  const TinyRun first = run_tiny(setup, dir, "first",
                                 "--steps " + std::to_string(split) + " --save_dir " + dir + "/ck --save_at " + std::to_string(split));
  const TinyRun second = run_tiny(setup, dir, "second", "--steps " + std::to_string(total) + " --load_dir " + dir + "/ck");
  EXPECT_EQ(reference.run.exit_code, 0) << reference.run.output;
  EXPECT_EQ(first.run.exit_code, 0) << first.run.output;
  EXPECT_EQ(second.run.exit_code, 0) << second.run.output;
  if (uninterrupted) *uninterrupted = reference;
  if (reference.result.is_null() || second.result.is_null()) return second;
  EXPECT_EQ(second.result["global_steps_after_load"], split);
  EXPECT_EQ(second.result["loss"].size(), size_t(total - split));
  for (int i = 0; i < total - split && i < int(second.result["loss"].size()); ++i)
    EXPECT_EQ(second.result["loss"][i].get<double>(), reference.result["loss"][split + i].get<double>()) << "step " << split + i;
  EXPECT_EQ(second.result["params"], reference.result["params"]) << "final weights differ";
  return second;
}

}  // namespace zs::testing
