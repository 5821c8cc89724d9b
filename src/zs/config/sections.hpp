// Readers for each part of the config. Each fills its fields of Config from the top-level
// section, validating types and ranges; errors name the key path. Internal to src/zs/config.
#pragma once

#include "zs/config/config.hpp"
#include "zs/config/reader.hpp"

namespace zs::config_detail {

// train_batch_size, train_micro_batch_size_per_gpu, gradient_accumulation_steps (batch.cpp)
void read_batch(Section& top, int world_size, Config& cfg);
// fp16, bf16 (alias bfloat16), communication_data_type (section_precision.cpp)
void read_precision(Section& top, Config& cfg);
// optimizer, scheduler (section_optimizer.cpp, section_scheduler.cpp)
void read_optimizer(Section& top, Config& cfg);
void read_scheduler(Section& top, Config& cfg);
// zero_optimization (section_zero.cpp)
void read_zero(Section& top, Config& cfg);
// activation_checkpointing, flops_profiler, tensorboard, csv_monitor, wandb (section_monitoring.cpp)
void read_monitoring(Section& top, Config& cfg);

}  // namespace zs::config_detail
