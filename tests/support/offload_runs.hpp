// Shared by the offload tests: an environment variable for the ranks of one scope, a directory's
// entry count (to check offload files are gone), and a short train_gpt run on CPU with a given
// zero_optimization section.
#pragma once

#include <dirent.h>

#include <cstdlib>
#include <string>

#include "support/run_ranks.hpp"

namespace zs::testing {

// Sets an environment variable for the runs of one scope (the ranks inherit it through zsrun).
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  const char* name_;
};

// Entries of a directory besides . and .. (-1: it does not exist).
inline int entries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
  closedir(d);
  return n;
}

// Two iterations of train_gpt on one CPU rank (fp32) with `zero` as the zero_optimization section.
inline RunResult run_gpt(const std::string& zero, const std::string& env = "",
                         const std::string& model = "--n_layer 1 --n_embd 16") {
  const std::string dir = temp_dir("offload_gpt");
  write_text(dir + "/ds.json", R"({"train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 1,
    "optimizer": {"type": "AdamW", "params": {"lr": 0.001}}, "zero_optimization": )" + zero + "}");
  return run_command((env.empty() ? "" : "env " + env + " ") + bin("train_gpt") +
                         " --device cpu --dtype float32 --deepspeed_config " + dir + "/ds.json " + model +
                         " --n_head 2 --block_size 8 --max_iters 2 --eval_interval 0 --sample_tokens 0",
                     120);
}

}  // namespace zs::testing
