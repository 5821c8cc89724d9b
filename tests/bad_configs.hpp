// A table of invalid DeepSpeed configs and the words their error message must contain. Shared by
// tests/test_config.cpp (each must throw ConfigError) and tests/progs/config_errors.cpp (prints
// the messages as a markdown table for the release note).
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "zs/config/config.hpp"

namespace zs::config_test {

struct BadConfig {
  BadConfig(std::string json_text, std::string expected_part, int world = 1, AutoValues offered = {})
      : json(std::move(json_text)), expected(std::move(expected_part)), world_size(world),
        autos(std::move(offered)) {}
  std::string json;         // the config text
  std::string expected;     // a part of the error message
  int world_size;
  AutoValues autos;         // what the program offers for "auto" keys
};

// GoogleTest prints a parameter with this.
inline void PrintTo(const BadConfig& bad, std::ostream* out) { *out << bad.json; }

inline std::vector<BadConfig> bad_configs() {
  const AutoValue lr_flag{0.001, "--learning_rate"};
  return {
      {R"({"train_batch_size": 8 "fp16": {}})", "invalid JSON: parse error at line 1, column 29"},
      {R"([1, 2])", "the config must be a JSON object"},
      {R"({"steps_per_print": 5})", "the batch size is not set"},
      {R"({"train_batch_size": 32, "train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 2})",
       "train_batch_size 32 does not equal train_micro_batch_size_per_gpu 4 * gradient_accumulation_steps 2 * "
       "world_size 2 = 16",
       2},
      {R"({"train_batch_size": 30, "train_micro_batch_size_per_gpu": 4})",
       "train_batch_size 30 is not divisible by train_micro_batch_size_per_gpu 4 * world_size 2", 2},
      {R"({"train_micro_batch_size_per_gpu": -1})", "train_micro_batch_size_per_gpu must be a positive integer (at most 10^9), got -1"},
      {R"({"train_batch_size": 8.5})", "train_batch_size must be an integer, got number 8.5"},
      {R"({"train_batch_size": 1e15})", "train_batch_size must be a positive integer (at most 10^9), got 1000000000000000"},
      {R"({"train_micro_batch_size_per_gpu": "8"})", "train_micro_batch_size_per_gpu must be an integer, got string \"8\""},
      {R"({"train_micro_batch_size_per_gpu": "auto"})",
       "train_micro_batch_size_per_gpu is \"auto\" but this program has no value for it; set it in the config"},
      {R"({"train_batch_size": 8, "fp16": {"enabled": "yes"}})", "fp16.enabled must be a boolean, got string \"yes\""},
      {R"({"train_batch_size": 8, "fp16": {"enabled": true}, "bf16": {"enabled": true}})",
       "fp16.enabled and bf16.enabled are both true"},
      {R"({"train_batch_size": 8, "fp16": {"enabled": true, "auto_cast": true}})", "fp16.auto_cast true is not supported"},
      {R"({"train_batch_size": 8, "fp16": {"enabled": true, "loss_scale_windw": 500}})",
       "fp16.loss_scale_windw: unknown key; did you mean \"loss_scale_window\"?"},
      {R"({"train_batch_size": 8, "fp16": {"enabled": true, "min_loss_scale": 0}})",
       "fp16.min_loss_scale must be greater than 0, got 0"},
      {R"({"train_batch_size": 8, "communication_data_type": "int8"})",
       "communication_data_type must be one of \"fp32\", \"fp16\", \"bf16\""},
      {R"({"train_batch_size": 8, "optimizer": {"type": "Lamb", "params": {"lr": 0.001}}})",
       "optimizer.type \"Lamb\" is not supported by ZeroShard (supported: Adam, AdamW, SGD, Lion, Adagrad)"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "Lion", "params": {"eps": 1e-8}}})",
       "optimizer.params.eps: unknown key for Lion"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "Lion", "params": {"betas": [0.9, 1.5]}}})",
       "optimizer.params.betas must be two numbers in [0, 1)"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "Adagrad", "params": {"initial_accumulator_value": 0.1}}})",
       "optimizer.params.initial_accumulator_value 0.1 is not supported by ZeroShard (the sums start at 0)"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "Adagrad", "params": {"lr_decay": -1}}})",
       "optimizer.params.lr_decay must be at least 0, got -1"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "AdamW", "params": {"lr": -0.1}}})",
       "optimizer.params.lr must be at least 0, got -0.1"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "AdamW", "params": {"betas": [0.9]}}})",
       "optimizer.params.betas must be an array of 2 numbers, got array [0.9]"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "Adam", "params": {"betas": [0.9, 1.0]}}})",
       "optimizer.params.betas must be two numbers in [0, 1)"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "AdamW", "params": {"eps": 0}}})",
       "optimizer.params.eps must be greater than 0, got 0"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "SGD", "params": {"lr": 0.1, "nesterov": true}}})",
       "optimizer.params.nesterov requires momentum > 0 and dampening 0"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "Adam", "params": {"momentum": 0.9}}})",
       "optimizer.params.momentum: unknown key for Adam"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "AdamW", "params": {"lr": "auto"}}})",
       "optimizer.params.lr is \"auto\" but this program has no value for it; set it in the config"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "AdamW", "params": {"lr": 0.0003}}})",
       "optimizer.params.lr is 0.0003 in the config but --learning_rate 0.001 was given on the command line", 1,
       {{"optimizer.params.lr", lr_flag}}},
      {R"({"train_batch_size": 8, "scheduler": {"type": "WarmupDecayLR", "params": {"warmup_num_steps": 10}}})",
       "scheduler.params.total_num_steps is required by WarmupDecayLR"},
      {R"({"train_batch_size": 8, "scheduler": {"type": "CosineAnnealing"}})",
       "scheduler.type \"CosineAnnealing\" is not supported by ZeroShard (supported: WarmupLR, WarmupDecayLR, "
       "WarmupCosineLR, OneCycle)"},
      {R"({"train_batch_size": 8, "scheduler": {"type": "WarmupLR", "params": {"warmup_num_step": 10}}})",
       "scheduler.params.warmup_num_step: unknown key for WarmupLR; did you mean \"warmup_num_steps\"?"},
      {R"({"train_batch_size": 8, "scheduler": {"type": "WarmupLR", "params": {"warmup_type": "exp"}}})",
       "scheduler.params.warmup_type must be \"log\" or \"linear\", got \"exp\""},
      {R"({"train_batch_size": 8, "scheduler": {"type": "OneCycle", "params": {"cycle_min_lr": 0.0001}}})",
       "scheduler.params: OneCycle requires cycle_min_lr and cycle_max_lr"},
      {R"({"train_batch_size": 8, "gradient_clipping": -1.0})", "gradient_clipping must be at least 0"},
      {R"({"train_batch_size": 8, "steps_per_print": 0})", "steps_per_print must be a positive integer, got 0"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 5}})",
       "zero_optimization.stage must be 0, 1, 2 or 3, got 5"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": "two"}})",
       "zero_optimization.stage must be an integer, got string \"two\""},
      {R"({"train_batch_size": 8, "zero_optimization": 2})", "zero_optimization must be an object, got number 2"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 2, "reduce_bucket_size": -1}})",
       "zero_optimization.reduce_bucket_size must be at least 0, got -1"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 2, "reduce_bucket_sise": 5e8}})",
       "zero_optimization.reduce_bucket_sise: unknown key; did you mean \"reduce_bucket_size\"?"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "gpu"}}})",
       "zero_optimization.offload_optimizer.device must be \"none\", \"cpu\" or \"nvme\", got \"gpu\""},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 3, "offload_param": {"device": "nvme"}}})",
       "zero_optimization.offload_param.nvme_path is required when zero_optimization.offload_param.device is "
       "\"nvme\""},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 2, "offload_param": {"device": "cpu"}}})",
       "zero_optimization.offload_param needs zero_optimization.stage 3 (the stage is 2)"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 0, "offload_optimizer": {"device": "cpu"}}})",
       "zero_optimization.offload_optimizer needs zero_optimization.stage 1, 2 or 3 (the stage is 0)"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"}}})",
       "zero_optimization.offload_param needs zero_optimization.offload_optimizer too"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu"}, "offload_param": {"device": "cpu", "buffer_count": 8}}})",
       "zero_optimization.offload_param: buffer_count, buffer_size and max_in_cpu apply to device \"nvme\" only"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu", "ratio": 0.5}, "offload_param": {"device": "nvme", "nvme_path": "/tmp"}}})",
       "zero_optimization.offload_optimizer.ratio 0.5 together with offload_param device \"nvme\" (use ratio 1.0, or "
       "offload_param device \"cpu\") is not available in this build yet"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 1, "offload_optimizer": {"device": "cpu", "pipeline_read": true}}})",
       "zero_optimization.offload_optimizer: fast_init, pipeline_read and pipeline_write apply to device \"nvme\" only"},
      {R"({"train_batch_size": 8, "activation_checkpointing": {"partition_activations": true}})",
       "activation_checkpointing.partition_activations is not available in this build yet"},
      {R"({"train_batch_size": 8, "tensorboard": {"enabled": true, "job_name": ""}})",
       "tensorboard.job_name must be a non-empty string"},
      {R"({"train_batch_size": 8, "wandb": {"enabled": true, "project": "p"}})",
       "wandb.enabled: ZeroShard cannot log to Weights & Biases"},
      {R"({"train_batch_size": 8, "flops_profiler": {"enabled": true, "profile_step": 0}})",
       "flops_profiler.profile_step must be a positive integer, got 0"},
      {R"({"train_batch_size": 8, "amp": {"enabled": true, "opt_level": "O1"}})",
       "amp: this DeepSpeed feature is not supported by ZeroShard"},
      {R"({"train_batch_size": 8, "bf16": {"enabled": true}, "bfloat16": {"enabled": true}})",
       "bf16 and bfloat16 are the same section given twice"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 1, "stage": 2}})",
       "zero_optimization.stage is given twice in one object; DeepSpeed refuses duplicate keys too"},
      {std::string(100, '['), "the config nests deeper than 64 levels of {} and []"},
      {R"({"optimizer": {"type": "AdamW", "params": {"lr": "auto"}}, "train_micro_batch_size_per_gpu": "auto"})",
       "2 keys are \"auto\" but this program has no value for them; set each in the config:\n"
       "  optimizer.params.lr: the learning rate\n  train_micro_batch_size_per_gpu: samples per rank per micro-step"},
      {R"({"train_batch_size": 8, "optimizer": {"type": "AdamW", "params": {"lr": 0.1}}, "gradient_clipping": 2})",
       "2 config values contradict flags given on the command line", 1,
       {{"optimizer.params.lr", lr_flag}, {"gradient_clipping", AutoValue(1.0, "--grad_clip")}}},
      {R"({"train_batch_size": 8, "bf16": {"enabled": true}})",
       "bf16.enabled is true in the config but --dtype float32 was given on the command line", 1,
       {{"bf16.enabled", AutoValue(false, "--dtype", "float32")}}},
      {R"({"train_batch_size": 8, "wall_clock_breakdown": "yes"})", "wall_clock_breakdown"},
      {R"({"train_batch_size": 8, "comms_logger": {"enabled": true, "prof_ops": "all_reduce"}})",
       "comms_logger.prof_ops must be a list of collective names"},
      {R"({"train_batch_size": 8, "autotuning": {"enabled": true}})", "autotuning is not available in ZeroShard yet"},
      {R"({"train_batch_size": 8, "torch_autocast": {"enabled": true}})",
       "torch_autocast: this DeepSpeed feature is not supported by ZeroShard"},
      {R"({"train_batch_size": 8, "gradient_allreduce_op": "sum"})", "gradient_allreduce_op \"sum\" is not available"},
      {R"({"train_batch_size": 8, "bf16": {"enabled": true, "check_grad_overflow": true}})",
       "bf16.check_grad_overflow true (skip a step whose gradients overflow) is not available in ZeroShard for bf16"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 3, "zero_hpz_partition_size": 8}})",
       "zero_optimization.zero_hpz_partition_size 8 does not divide the 1 ranks"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 2, "zero_quantized_weights": true}})",
       "zero_optimization.zero_quantized_weights needs zero_optimization.stage 3, as in DeepSpeed (the stage is 2)"},
      {R"({"train_batch_size": 8, "zero_optimization": {"ignore_unused_parameters": false}})",
       "zero_optimization.ignore_unused_parameters false (stop on parameters that get no gradient) is not available"},
      {R"({"train_batch_size": 8, "zero_optimization": {"stage": 3, "prefetch_bucket_size": 1, "stage3_prefetch_bucket_size": 2}})",
       "are the same setting under two names; keep one"},
      {R"({"train_batch_size": 8, "scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": 0}}})",
       "scheduler.params.warmup_num_steps must be a positive integer, got 0"},
  };
}

}  // namespace zs::config_test
