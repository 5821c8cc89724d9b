// Shared by the CPU and GPU equivalence tests: a ZeRO config for one run setup, a run of a tiny
// trainer (tests/progs/train_tiny: GPT; train_tiny_llama: Llama) through zsrun, and the
// comparison of two runs.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "support/run_ranks.hpp"

namespace zs::testing {

inline constexpr int kGlobalBatch = 24;
inline constexpr int kSteps = 8;

struct RunSetup {
  int stage = 0;
  std::string dtype = "fp32";   // fp32, bf16, fp16
  int accum = 1;
  int world = 1;
  bool overlap = true;
  bool reduce_scatter = true;
  std::string comm_dtype;       // empty: default
  std::string extra;            // extra top-level JSON members, with a leading comma
  std::string zero_extra;       // extra zero_optimization members, with a leading comma
  int64_t prefetch_bucket = 8000;  // stage3_prefetch_bucket_size (each key once: duplicates are errors)
  double clipping = 0.5;           // gradient_clipping (0: off)
  std::string device = "cpu";   // cpu (MPI ranks) or cuda (NCCL ranks, one GPU each)
  std::string program = "tests/train_tiny";   // the trainer (same flags and output)
  // The "optimizer" member.
  std::string optimizer = R"({"type": "AdamW", "params": {"lr": 0.003, "betas": [0.9, 0.95], "weight_decay": 0.1}})";
};

// At stage 3 the tiny GPT's blocks are units: its matrices are partitioned, while biases and
// norms (under 100 elements) stay gathered, so both paths run; prefetching covers a block or two.
inline std::string config_json(const RunSetup& s) {
  const int micro = kGlobalBatch / (s.accum * s.world);
  std::string precision;
  if (s.dtype == "bf16") precision = R"(, "bf16": {"enabled": true})";
  if (s.dtype == "fp16")
    precision = R"(, "fp16": {"enabled": true, "initial_scale_power": 8, "hysteresis": 2, "loss_scale_window": 1000})";
  std::string comm = s.comm_dtype.empty() ? "" : R"(, "communication_data_type": ")" + s.comm_dtype + "\"";
  return R"({
    "train_batch_size": )" + std::to_string(kGlobalBatch) + R"(,
    "train_micro_batch_size_per_gpu": )" + std::to_string(micro) + R"(,
    "gradient_accumulation_steps": )" + std::to_string(s.accum) + R"(,
    "gradient_clipping": )" + std::to_string(s.clipping) + R"(,
    "optimizer": )" + s.optimizer + R"(,
    "zero_optimization": {"stage": )" + std::to_string(s.stage) + R"(, "reduce_bucket_size": 3000,
       "stage3_param_persistence_threshold": 100, "stage3_prefetch_bucket_size": )" + std::to_string(s.prefetch_bucket) + R"(,
       "allgather_bucket_size": 5000, "overlap_comm": )" + (s.overlap ? "true" : "false") +
         R"(, "reduce_scatter": )" + (s.reduce_scatter ? "true" : "false") + s.zero_extra + "}" + precision + comm +
         s.extra + "}";
}

// `steps`: optimizer steps (kSteps unless a test needs fewer to make its point).
inline nlohmann::json train(const RunSetup& s, const std::string& args = "", int steps = kSteps) {
  const std::string dir = temp_dir("eq");
  write_text(dir + "/config.json", config_json(s));
  const RunResult r = run_ranks(s.world,
                                bin(s.program) + " --device " + s.device + " --config " + dir +
                                    "/config.json --out " + dir + "/result.json --steps " + std::to_string(steps) + " " + args,
                                300, s.device == "cuda" ? "--num_gpus" : "--num_procs");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? read_json(dir + "/result.json") : nlohmann::json();
}

// The run every comparison is against: one process of `program` at stage 0 in `dtype` on `device`
// (cached, one run per program, dtype and device).
inline const nlohmann::json& reference(const std::string& dtype, const std::string& device = "cpu",
                                       const std::string& program = "tests/train_tiny") {
  static std::map<std::string, nlohmann::json> cache;
  const std::string key = program + "/" + device + "/" + dtype;
  auto it = cache.find(key);
  if (it == cache.end()) {
    RunSetup s;
    s.dtype = dtype;
    s.device = device;
    s.program = program;
    it = cache.emplace(key, train(s)).first;
  }
  return it->second;
}

// Largest relative difference of the per-step losses, and the relative difference of all final
// weights together, ||w - w_ref|| / ||w_ref|| (Adam amplifies rounding on elements whose
// gradients are near zero, so single elements say more about Adam than about sharding).
inline std::pair<double, double> difference(const nlohmann::json& a, const nlohmann::json& b) {
  double loss = 0, diff_sq = 0, ref_sq = 0;
  for (size_t i = 0; i < a["loss"].size(); ++i)
    loss = std::max(loss, std::abs(a["loss"][i].get<double>() - b["loss"][i].get<double>()) /
                              std::abs(b["loss"][i].get<double>()));
  for (const auto& [name, values] : b["params"].items()) {
    const auto& other = a["params"][name];
    for (size_t i = 0; i < values.size(); ++i) {
      const double r = values[i].get<double>(), d = r - other[i].get<double>();
      ref_sq += r * r;
      diff_sq += d * d;
    }
  }
  return {loss, std::sqrt(diff_sq / ref_sq)};
}

}  // namespace zs::testing
