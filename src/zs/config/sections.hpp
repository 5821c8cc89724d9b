// Readers for each part of the config. Each fills its fields of Config from the top-level
// section, validating types and ranges; errors name the key path. Internal to src/zs/config.
#pragma once

#include "zs/config/config.hpp"
#include "zs/config/reader.hpp"

namespace zs::config_detail {

// The top level (top_level.cpp): the keys ZeroShard reads; refusals and warnings for the others;
// gradient_clipping, steps_per_print and the other top-level scalars.
const std::vector<std::string>& read_top_level_keys();
void check_top_level_keys(const nlohmann::json& doc, Config& cfg);
void read_top_level(Section& top, Config& cfg);

// train_batch_size, train_micro_batch_size_per_gpu, gradient_accumulation_steps (batch.cpp)
void read_batch(Section& top, int world_size, Config& cfg);
// fp16, bf16 (alias bfloat16), communication_data_type (section_precision.cpp)
void read_precision(Section& top, Config& cfg);
// "fp32", "fp16" or "bf16" for the spellings torch and DeepSpeed users write ("float16", "half",
// "torch.bfloat16"...); nullopt for anything else.
std::optional<std::string> canonical_dtype(const std::string& name);
// optimizer, scheduler (section_optimizer.cpp, section_scheduler.cpp)
void read_optimizer(Section& top, Config& cfg);
void read_scheduler(Section& top, Config& cfg);
// zero_optimization (section_zero.cpp)
void read_zero(Section& top, int world_size, Config& cfg);
// activation_checkpointing, flops_profiler, tensorboard, csv_monitor, wandb, comet, comms_logger
// (section_monitoring.cpp)
void read_monitoring(Section& top, Config& cfg);

}  // namespace zs::config_detail
