// Config layer: DeepSpeed keys, defaults, the batch rule, "auto" resolution, every section, and
// a table of invalid configs that must each give a clear ConfigError.
#include <gtest/gtest.h>

#include <fstream>

#include "bad_configs.hpp"
#include "support/error_of.hpp"
#include "zs/base/strings.hpp"
#include "zs/config/config.hpp"
#include "zs/config/env.hpp"
#include "zs/config/reader.hpp"
#include "zs/config/unbuilt_features.hpp"

namespace test_config {

using namespace zs;
using nlohmann::json;

namespace {

// The message of the ConfigError that `f` throws ("" if it throws none).
template <class F>
std::string error_of(F&& f) {
  return zs::testing::error_of<ConfigError>(std::forward<F>(f));
}

Config parse(const std::string& text, int world = 1, const AutoValues& autos = {}) {
  return parse_config(text, world, autos);
}

}  // namespace

// Lion and Adagrad with the defaults of DeepSpeed's FusedLion and of torch's (and DeepSpeed's CPU) Adagrad.
TEST(Config, LionAndAdagradReadTheirParameters) {
  Config lion = parse(R"({"train_batch_size": 8, "optimizer": {"type": "lion", "params": {"lr": 1e-4, "betas": [0.95, 0.98], "weight_decay": 0.1}}})", 2);
  EXPECT_EQ(lion.optimizer.type, "Lion");
  EXPECT_DOUBLE_EQ(lion.optimizer.lr, 1e-4);
  EXPECT_DOUBLE_EQ(lion.optimizer.beta1, 0.95);
  EXPECT_DOUBLE_EQ(lion.optimizer.beta2, 0.98);
  EXPECT_DOUBLE_EQ(lion.optimizer.weight_decay, 0.1);
  Config adagrad = parse(R"({"train_batch_size": 8, "optimizer": {"type": "Adagrad"}})", 2);
  EXPECT_EQ(adagrad.optimizer.type, "Adagrad");
  EXPECT_DOUBLE_EQ(adagrad.optimizer.lr, 1e-2);
  EXPECT_DOUBLE_EQ(adagrad.optimizer.eps, 1e-10);
  EXPECT_DOUBLE_EQ(adagrad.optimizer.lr_decay, 0.0);
  Config given = parse(R"({"train_batch_size": 8, "optimizer": {"type": "Adagrad", "params": {"lr": 0.1, "eps": 1e-8, "lr_decay": 0.01, "initial_accumulator_value": 0}}})", 2);
  EXPECT_DOUBLE_EQ(given.optimizer.lr, 0.1);
  EXPECT_DOUBLE_EQ(given.optimizer.eps, 1e-8);
  EXPECT_DOUBLE_EQ(given.optimizer.lr_decay, 0.01);
}

TEST(Config, DefaultsFollowDeepSpeed) {
  Config c = parse(R"({"train_batch_size": 8})", 2);
  EXPECT_EQ(c.train_batch_size, 8);
  EXPECT_EQ(c.train_micro_batch_size_per_gpu, 4);
  EXPECT_EQ(c.gradient_accumulation_steps, 1);
  EXPECT_EQ(c.precision, Precision::fp32);
  EXPECT_STREQ(precision_name(c.precision), "fp32");
  EXPECT_FALSE(c.communication_data_type.has_value());
  EXPECT_FALSE(c.optimizer.present);
  EXPECT_FALSE(c.scheduler.has_value());
  EXPECT_EQ(c.gradient_clipping, 0.0);
  EXPECT_FALSE(c.prescale_gradients);
  EXPECT_EQ(c.gradient_predivide_factor, 1.0);
  EXPECT_EQ(c.steps_per_print, 10);
  EXPECT_FALSE(c.wall_clock_breakdown);
  EXPECT_FALSE(c.memory_breakdown);
  EXPECT_EQ(c.loss_scale.static_scale, 0.0);
  EXPECT_EQ(c.loss_scale.initial_scale_power, 16);
  EXPECT_EQ(c.loss_scale.loss_scale_window, 1000);
  EXPECT_EQ(c.loss_scale.hysteresis, 2);
  EXPECT_EQ(c.loss_scale.min_loss_scale, 1.0);
  EXPECT_EQ(c.zero.stage, 0);
  EXPECT_FALSE(c.zero.overlap_comm);
  EXPECT_TRUE(c.zero.contiguous_gradients);
  EXPECT_TRUE(c.zero.reduce_scatter);
  EXPECT_EQ(c.zero.reduce_bucket_size, 500000000);
  EXPECT_EQ(c.zero.allgather_bucket_size, 500000000);
  EXPECT_EQ(c.zero.stage3_prefetch_bucket_size, 50000000);
  EXPECT_EQ(c.zero.stage3_param_persistence_threshold, 100000);
  EXPECT_EQ(c.zero.offload_optimizer.device, "none");
  EXPECT_EQ(c.zero.offload_optimizer.buffer_count, 4);
  EXPECT_EQ(c.zero.offload_param.buffer_count, 5);
  EXPECT_FALSE(c.activation_checkpointing.present);
  EXPECT_FALSE(c.flops_profiler);
  EXPECT_FALSE(c.tensorboard.enabled);
  EXPECT_EQ(c.tensorboard.job_name, "DeepSpeedJobName");
  EXPECT_EQ(c.wandb.project, "deepspeed");
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_EQ(c.raw["gradient_accumulation_steps"], 1);
  EXPECT_EQ(c.raw["train_micro_batch_size_per_gpu"], 4);
}

TEST(Config, BatchRule) {
  struct Case {
    const char* json;
    int world;
    int64_t train, micro, accum;
  };
  const Case cases[] = {
      {R"({"train_batch_size": 32, "train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 2})", 4, 32, 4, 2},
      {R"({"train_batch_size": 32, "train_micro_batch_size_per_gpu": 4})", 2, 32, 4, 4},
      {R"({"train_batch_size": 32, "gradient_accumulation_steps": 4})", 2, 32, 4, 4},
      {R"({"train_micro_batch_size_per_gpu": 3, "gradient_accumulation_steps": 5})", 2, 30, 3, 5},
      {R"({"train_batch_size": 12})", 3, 12, 4, 1},
      {R"({"train_micro_batch_size_per_gpu": 6})", 4, 24, 6, 1},
      {R"({"train_micro_batch_size_per_gpu": 2.0})", 1, 2, 2, 1},  // integral float accepted
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.json);
    Config c = parse(k.json, k.world);
    EXPECT_EQ(c.train_batch_size, k.train);
    EXPECT_EQ(c.train_micro_batch_size_per_gpu, k.micro);
    EXPECT_EQ(c.gradient_accumulation_steps, k.accum);
    EXPECT_EQ(c.raw["train_batch_size"], k.train);
  }
  // train_batch_size "auto" with nothing offered for it is derived (as Hugging Face's integration does).
  Config derived = parse(R"({"train_batch_size": "auto", "train_micro_batch_size_per_gpu": 2,
      "gradient_accumulation_steps": 3})", 4);
  EXPECT_EQ(derived.train_batch_size, 24);
  EXPECT_EQ(derived.raw["train_batch_size"], 24);
  // Accumulation alone does not say the batch size.
  EXPECT_NE(error_of([] { parse(R"({"gradient_accumulation_steps": 4})"); }).find("batch size is not set"),
            std::string::npos);
  std::string mismatch = error_of([] {
    parse(R"({"train_batch_size": 10, "train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 2})", 3);
  });
  EXPECT_NE(mismatch.find("10"), std::string::npos);
  EXPECT_NE(mismatch.find("train_micro_batch_size_per_gpu 2"), std::string::npos);
  EXPECT_NE(mismatch.find("gradient_accumulation_steps 2"), std::string::npos);
  EXPECT_NE(mismatch.find("world_size 3"), std::string::npos);
}

TEST(Config, AutoValuesFillAutoKeysOnly) {
  AutoValues autos = {
      {"train_micro_batch_size_per_gpu", {4, ""}},
      {"gradient_accumulation_steps", {2, "--grad_accum"}},
      {"optimizer.params.lr", {3e-4, "--learning_rate"}},
      {"optimizer.params.weight_decay", {0.1, ""}},
      {"optimizer.params.eps", {1e-6, ""}},               // not in the config: DeepSpeed's default stays
      {"gradient_clipping", {1.0, ""}},
      {"scheduler.params.warmup_num_steps", {100, ""}},
  };
  Config c = parse(R"({
      // comments are fine
      "train_micro_batch_size_per_gpu": "auto",
      "gradient_accumulation_steps": "auto",
      "gradient_clipping": "auto",
      /* block comment */
      "optimizer": {"type": "AdamW", "params": {"lr": "auto", "weight_decay": 0.01}},
      "scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": "auto"}}
    })",
                   2, autos);
  EXPECT_EQ(c.train_micro_batch_size_per_gpu, 4);
  EXPECT_EQ(c.gradient_accumulation_steps, 2);
  EXPECT_EQ(c.train_batch_size, 16);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 3e-4);
  EXPECT_DOUBLE_EQ(c.optimizer.weight_decay, 0.01);  // a program default never overrides the config
  EXPECT_DOUBLE_EQ(c.optimizer.eps, 1e-8);
  EXPECT_DOUBLE_EQ(c.gradient_clipping, 1.0);
  EXPECT_EQ(c.scheduler->warmup_num_steps, 100);
  // The resolved document holds the values used.
  EXPECT_DOUBLE_EQ(c.raw["optimizer"]["params"]["lr"].get<double>(), 3e-4);
  EXPECT_EQ(c.raw["train_micro_batch_size_per_gpu"], 4);
  EXPECT_EQ(c.raw["train_batch_size"], 16);
  EXPECT_FALSE(c.raw["optimizer"]["params"].contains("eps"));
}

TEST(Config, ExplicitFlagMustAgreeWithConcreteValue) {
  AutoValues autos = {{"optimizer.params.lr", {0.001, "--learning_rate"}},
                      {"optimizer.params.betas", {json::array({0.9, 0.95}), "--betas"}}};
  // Same value written differently is no conflict.
  Config ok = parse(R"({"train_batch_size": 1, "optimizer": {"type": "AdamW", "params": {"lr": 1e-3, "betas": [0.9, 0.95]}}})",
                    1, autos);
  EXPECT_DOUBLE_EQ(ok.optimizer.lr, 0.001);
  EXPECT_DOUBLE_EQ(ok.optimizer.beta2, 0.95);
  std::string e = error_of([&] {
    parse(R"({"train_batch_size": 1, "optimizer": {"type": "AdamW", "params": {"betas": [0.9, 0.999]}}})", 1, autos);
  });
  EXPECT_NE(e.find("optimizer.params.betas is [0.9, 0.999] in the config but --betas [0.9, 0.95] was given on the "
                   "command line"),
            std::string::npos)
      << e;
  // A flag for a key the config lacks changes nothing; the user is told.
  Config unused = parse(R"({"train_batch_size": 1, "optimizer": {"type": "AdamW"}})", 1, autos);
  EXPECT_DOUBLE_EQ(unused.optimizer.lr, 1e-3);
  // (--learning_rate 0.001 is DeepSpeed's default lr anyway: no warning for it.)
  ASSERT_EQ(unused.warnings.size(), 1u);
  EXPECT_NE(unused.warnings[0].find("--betas [0.9, 0.95] was given but the config has no optimizer.params.betas"),
            std::string::npos)
      << unused.warnings[0];
  // An AutoValue without a flag is only a fallback for "auto".
  Config quiet = parse(R"({"train_batch_size": 1, "optimizer": {"type": "AdamW", "params": {"lr": 0.5}}})", 1,
                       {{"optimizer.params.lr", {0.001, ""}}});
  EXPECT_DOUBLE_EQ(quiet.optimizer.lr, 0.5);
}

TEST(Config, Fp16AndBf16) {
  Config c = parse(R"({"train_batch_size": 1, "fp16": {"enabled": true, "loss_scale": 0, "initial_scale_power": 12,
      "loss_scale_window": 500, "hysteresis": 4, "consecutive_hysteresis": true, "min_loss_scale": 0.5,
      "auto_cast": false}, "communication_data_type": "half"})");
  EXPECT_EQ(c.precision, Precision::fp16);
  EXPECT_EQ(c.loss_scale.initial_scale_power, 12);
  EXPECT_EQ(c.loss_scale.loss_scale_window, 500);
  EXPECT_EQ(c.loss_scale.hysteresis, 4);
  EXPECT_TRUE(c.loss_scale.consecutive_hysteresis);
  EXPECT_DOUBLE_EQ(c.loss_scale.min_loss_scale, 0.5);
  EXPECT_EQ(*c.communication_data_type, "fp16");

  Config s = parse(R"({"train_batch_size": 1, "fp16": {"enabled": true, "loss_scale": 128}})");
  EXPECT_DOUBLE_EQ(s.loss_scale.static_scale, 128);

  Config b = parse(R"({"train_batch_size": 1, "bf16": {"enabled": true}, "communication_data_type": "float32"})");
  EXPECT_EQ(b.precision, Precision::bf16);
  EXPECT_STREQ(precision_name(b.precision), "bf16");
  EXPECT_EQ(*b.communication_data_type, "fp32");
  Config alias = parse(R"({"train_batch_size": 1, "bfloat16": {"enabled": true}})");
  EXPECT_EQ(alias.precision, Precision::bf16);
  // Both sections present, one disabled, is fine.
  Config one = parse(R"({"train_batch_size": 1, "fp16": {"enabled": false}, "bf16": {"enabled": true}})");
  EXPECT_EQ(one.precision, Precision::bf16);
  Config from_flag = parse(R"({"train_batch_size": 1, "bf16": {"enabled": "auto"}})", 1, {{"bf16.enabled", {true, ""}}});
  EXPECT_EQ(from_flag.precision, Precision::bf16);
}

TEST(Config, Optimizers) {
  Config adam = parse(R"({"train_batch_size": 1, "optimizer": {"type": "adam", "params": {"lr": 0.01,
      "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1, "torch_adam": true}}})");
  EXPECT_TRUE(adam.optimizer.present);
  EXPECT_EQ(adam.optimizer.type, "AdamW");  // DeepSpeed's Adam defaults to adam_w_mode
  EXPECT_TRUE(adam.optimizer.adam_w_mode);
  EXPECT_DOUBLE_EQ(adam.optimizer.lr, 0.01);
  EXPECT_DOUBLE_EQ(adam.optimizer.beta1, 0.8);
  EXPECT_DOUBLE_EQ(adam.optimizer.beta2, 0.99);
  EXPECT_DOUBLE_EQ(adam.optimizer.eps, 1e-6);
  EXPECT_DOUBLE_EQ(adam.optimizer.weight_decay, 0.1);
  EXPECT_TRUE(adam.optimizer.torch_adam);

  Config l2 = parse(R"({"train_batch_size": 1, "optimizer": {"type": "Adam", "params": {"adam_w_mode": false}}})");
  EXPECT_EQ(l2.optimizer.type, "Adam");
  EXPECT_FALSE(l2.optimizer.adam_w_mode);

  Config adamw = parse(R"({"train_batch_size": 1, "optimizer": {"type": "ADAMW"}})");
  EXPECT_EQ(adamw.optimizer.type, "AdamW");
  EXPECT_DOUBLE_EQ(adamw.optimizer.lr, 1e-3);
  EXPECT_DOUBLE_EQ(adamw.optimizer.weight_decay, 0.0);

  Config sgd = parse(R"({"train_batch_size": 1, "optimizer": {"type": "sgd", "params": {"lr": 0.1,
      "momentum": 0.9, "nesterov": true, "weight_decay": 1e-4}}})");
  EXPECT_EQ(sgd.optimizer.type, "SGD");
  EXPECT_DOUBLE_EQ(sgd.optimizer.momentum, 0.9);
  EXPECT_TRUE(sgd.optimizer.nesterov);
  EXPECT_DOUBLE_EQ(sgd.optimizer.dampening, 0.0);

  EXPECT_NE(error_of([] { parse(R"({"train_batch_size": 1, "optimizer": {"type": "AdamWW"}})"); })
                .find("did you mean \"AdamW\"?"),
            std::string::npos);
}

TEST(Config, Schedulers) {
  Config warm = parse(R"({"train_batch_size": 1, "scheduler": {"type": "WarmupLR"}})");
  ASSERT_TRUE(warm.scheduler);
  EXPECT_EQ(warm.scheduler->type, "WarmupLR");
  EXPECT_DOUBLE_EQ(warm.scheduler->warmup_min_lr, 0.0);
  EXPECT_DOUBLE_EQ(warm.scheduler->warmup_max_lr, 0.001);
  EXPECT_EQ(warm.scheduler->warmup_num_steps, 1000);
  EXPECT_EQ(warm.scheduler->warmup_type, "log");

  Config decay = parse(R"({"train_batch_size": 1, "scheduler": {"type": "WarmupDecayLR", "params": {
      "warmup_min_lr": 1e-5, "warmup_max_lr": 3e-4, "warmup_num_steps": 50, "warmup_type": "linear",
      "total_num_steps": 1000, "last_batch_iteration": 9}}})");
  EXPECT_DOUBLE_EQ(decay.scheduler->warmup_min_lr, 1e-5);
  EXPECT_DOUBLE_EQ(decay.scheduler->warmup_max_lr, 3e-4);
  EXPECT_EQ(decay.scheduler->warmup_num_steps, 50);
  EXPECT_EQ(decay.scheduler->warmup_type, "linear");
  EXPECT_EQ(decay.scheduler->total_num_steps, 1000);
  EXPECT_EQ(decay.scheduler->last_batch_iteration, 9);

  Config cosine = parse(R"({"train_batch_size": 1, "scheduler": {"type": "WarmupCosineLR", "params": {
      "total_num_steps": 100, "warmup_num_steps": 200, "warmup_min_ratio": 0.1, "cos_min_ratio": 0.01}}})");
  EXPECT_EQ(cosine.scheduler->total_num_steps, 100);
  EXPECT_DOUBLE_EQ(cosine.scheduler->warmup_min_ratio, 0.1);
  EXPECT_DOUBLE_EQ(cosine.scheduler->cos_min_ratio, 0.01);
  ASSERT_EQ(cosine.warnings.size(), 1u);  // total < warmup: allowed, but worth saying
  EXPECT_NE(cosine.warnings[0].find("never leaves warmup"), std::string::npos);

  Config cycle = parse(R"({"train_batch_size": 1, "scheduler": {"type": "OneCycle", "params": {
      "cycle_min_lr": 1e-4, "cycle_max_lr": 1e-3, "cycle_first_step_size": 100, "cycle_second_step_size": 50,
      "decay_lr_rate": 0.01, "decay_step_size": 10, "cycle_momentum": false, "cycle_min_mom": 0.85,
      "cycle_max_mom": 0.95}}})");
  EXPECT_DOUBLE_EQ(cycle.scheduler->cycle_max_lr, 1e-3);
  EXPECT_EQ(cycle.scheduler->cycle_first_step_size, 100);
  EXPECT_EQ(cycle.scheduler->cycle_second_step_size, 50);
  EXPECT_EQ(cycle.scheduler->cycle_second_stair_count, -1);
  EXPECT_FALSE(cycle.scheduler->cycle_momentum);
  EXPECT_DOUBLE_EQ(cycle.scheduler->cycle_min_mom, 0.85);

  EXPECT_NE(error_of([] { parse(R"({"train_batch_size": 1, "scheduler": {"type": "warmuplr"}})"); })
                .find("did you mean \"WarmupLR\"?"),
            std::string::npos);
}

TEST(Config, ZeroOptimization) {
  Config z2 = parse(R"({"train_batch_size": 1, "zero_optimization": {"stage": 2, "overlap_comm": true,
      "contiguous_gradients": false, "reduce_scatter": false, "reduce_bucket_size": 2e8,
      "allgather_bucket_size": 300000000, "allgather_partitions": false, "round_robin_gradients": true,
      "elastic_checkpoint": true, "ignore_unused_parameters": true, "load_from_fp32_weights": true,
      "sub_group_size": 1e9, "offload_optimizer": {"device": "none"}}})");
  EXPECT_EQ(z2.zero.stage, 2);
  EXPECT_TRUE(z2.zero.overlap_comm);
  EXPECT_FALSE(z2.zero.contiguous_gradients);
  EXPECT_FALSE(z2.zero.reduce_scatter);
  EXPECT_EQ(z2.zero.reduce_bucket_size, 200000000);
  EXPECT_EQ(z2.zero.allgather_bucket_size, 300000000);
  EXPECT_FALSE(z2.zero.allgather_partitions);
  EXPECT_TRUE(z2.zero.round_robin_gradients);
  EXPECT_TRUE(z2.zero.elastic_checkpoint);
  EXPECT_TRUE(z2.zero.ignore_unused_parameters);
  EXPECT_TRUE(z2.zero.load_from_fp32_weights);
  EXPECT_EQ(z2.zero.sub_group_size, 1000000000);

  Config bucket_auto = parse(R"({"train_batch_size": 1, "zero_optimization": {"stage": 1, "reduce_bucket_size": "auto"}})",
                             1, {{"zero_optimization.reduce_bucket_size", {1048576, ""}}});
  EXPECT_EQ(bucket_auto.zero.reduce_bucket_size, 1048576);

  // Stage 3 and offload are validated in full; read_config skips the unbuilt-feature check.
  Config z3 = read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3,
      "stage3_prefetch_bucket_size": 1e7, "stage3_param_persistence_threshold": 1e4,
      "stage3_max_live_parameters": 2e8, "stage3_max_reuse_distance": 3e8,
      "stage3_gather_fp16_weights_on_model_save": true,
      "offload_optimizer": {"device": "nvme", "nvme_path": "/nvme", "pin_memory": true, "buffer_count": 8,
                            "ratio": 0.5, "fast_init": true, "pipeline_read": true},
      "offload_param": {"device": "cpu", "pin_memory": true, "buffer_size": 1e7, "max_in_cpu": 1e8}}})",
                          1);
  EXPECT_EQ(z3.zero.stage, 3);
  EXPECT_TRUE(z3.zero.overlap_comm);  // stage 3's default
  EXPECT_EQ(z3.zero.stage3_prefetch_bucket_size, 10000000);
  EXPECT_EQ(z3.zero.stage3_param_persistence_threshold, 10000);
  EXPECT_EQ(z3.zero.stage3_max_live_parameters, 200000000);
  EXPECT_EQ(z3.zero.stage3_max_reuse_distance, 300000000);
  EXPECT_TRUE(z3.zero.stage3_gather_16bit_weights_on_model_save);
  EXPECT_EQ(z3.zero.offload_optimizer.device, "nvme");
  EXPECT_EQ(z3.zero.offload_optimizer.nvme_path, "/nvme");
  EXPECT_TRUE(z3.zero.offload_optimizer.pin_memory);
  EXPECT_EQ(z3.zero.offload_optimizer.buffer_count, 8);
  EXPECT_DOUBLE_EQ(z3.zero.offload_optimizer.ratio, 0.5);
  EXPECT_TRUE(z3.zero.offload_optimizer.fast_init);
  EXPECT_TRUE(z3.zero.offload_optimizer.pipeline_read);
  EXPECT_FALSE(z3.zero.offload_optimizer.pipeline_write);
  EXPECT_TRUE(z3.zero.offload_param.enabled());
  EXPECT_EQ(z3.zero.offload_param.buffer_size, 10000000);
  EXPECT_EQ(z3.zero.offload_param.max_in_cpu, 100000000);
  EXPECT_THROW(reject_unbuilt_features(z3), ConfigError);

  Config legacy = read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 2, "cpu_offload": true}})", 1);
  EXPECT_EQ(legacy.zero.offload_optimizer.device, "cpu");
  EXPECT_FALSE(legacy.zero.offload_optimizer.pin_memory);  // cpu_offload_use_pin_memory says
  EXPECT_EQ(legacy.warnings.size(), 1u);

  Config boolean = parse(R"({"train_batch_size": 1, "zero_optimization": true})");
  EXPECT_EQ(boolean.zero.stage, 1);
}

TEST(Config, MonitoringAndActivationCheckpointing) {
  Config c = read_config(R"({"train_batch_size": 1,
      "activation_checkpointing": {"partition_activations": true, "cpu_checkpointing": true,
          "contiguous_memory_optimization": false, "number_checkpoints": 4, "synchronize_checkpoint_boundary": false,
          "profile": false},
      "flops_profiler": {"enabled": true, "profile_step": 5, "module_depth": 2, "top_modules": 3, "detailed": false,
          "output_file": null},
      "tensorboard": {"enabled": true, "output_path": "tb", "job_name": "run1"},
      "csv_monitor": {"enabled": false, "output_path": "csv"},
      "wandb": {"enabled": true, "team": "t", "group": "g", "project": "p"},
      "wall_clock_breakdown": true, "memory_breakdown": true, "steps_per_print": 100,
      "gradient_clipping": 1.0, "prescale_gradients": true, "gradient_predivide_factor": 2.0})",
                         1);
  EXPECT_TRUE(c.activation_checkpointing.present);
  EXPECT_TRUE(c.activation_checkpointing.partition_activations);
  EXPECT_TRUE(c.activation_checkpointing.cpu_checkpointing);
  EXPECT_EQ(c.activation_checkpointing.number_checkpoints, 4);
  EXPECT_TRUE(c.flops_profiler);
  EXPECT_EQ(c.flops_profiler_options.profile_step, 5);
  EXPECT_EQ(c.flops_profiler_options.module_depth, 2);
  EXPECT_EQ(c.flops_profiler_options.top_modules, 3);
  EXPECT_FALSE(c.flops_profiler_options.detailed);
  EXPECT_TRUE(c.tensorboard.enabled);
  EXPECT_EQ(c.tensorboard.output_path, "tb");
  EXPECT_EQ(c.tensorboard.job_name, "run1");
  EXPECT_FALSE(c.csv_monitor.enabled);
  EXPECT_EQ(c.csv_monitor.output_path, "csv");
  EXPECT_EQ(c.wandb.team, "t");
  EXPECT_EQ(c.wandb.group, "g");
  EXPECT_EQ(c.wandb.project, "p");
  EXPECT_TRUE(c.wall_clock_breakdown);
  EXPECT_TRUE(c.memory_breakdown);
  EXPECT_EQ(c.steps_per_print, 100);
  EXPECT_DOUBLE_EQ(c.gradient_clipping, 1.0);
  EXPECT_TRUE(c.prescale_gradients);
  EXPECT_DOUBLE_EQ(c.gradient_predivide_factor, 2.0);
  // Sections present with everything off are fine in this build.
  Config off = parse(R"({"train_batch_size": 1, "activation_checkpointing": {"partition_activations": false},
      "tensorboard": {"enabled": false}, "flops_profiler": {"enabled": false}, "amp": {"enabled": false}})");
  EXPECT_TRUE(off.activation_checkpointing.present);
}

TEST(Config, TopLevelUnknownKeysAreWarnings) {
  Config c = parse(R"({"train_batch_size": 1, "gradient_clippping": 1.0, "my_own_key": 3, "aio": {}})");
  ASSERT_EQ(c.warnings.size(), 3u);
  std::string all = c.warnings[0] + "\n" + c.warnings[1] + "\n" + c.warnings[2];
  EXPECT_NE(all.find("gradient_clippping: unknown top-level key, ignored; did you mean \"gradient_clipping\"?"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("my_own_key: unknown top-level key"), std::string::npos);
  EXPECT_NE(all.find("aio: a DeepSpeed setting ZeroShard does not use"), std::string::npos);
  EXPECT_DOUBLE_EQ(c.gradient_clipping, 0.0);
}

TEST(Config, EditDistanceSuggestions) {
  using config_detail::closest_name;
  EXPECT_EQ(zs::edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(closest_name("reduce_bucket_sise", {"reduce_bucket_size", "allgather_bucket_size"}), "reduce_bucket_size");
  EXPECT_EQ(closest_name("banana", {"stage", "overlap_comm"}), "");
}

TEST(Config, LoadConfigFromFile) {
  std::string missing = error_of([] { load_config("/nonexistent/ds.json", 1); });
  EXPECT_NE(missing.find("cannot open config file /nonexistent/ds.json: No such file or directory"),
            std::string::npos)
      << missing;

  std::string path = ::testing::TempDir() + "zs_test_config.json";
  {
    std::ofstream out(path);
    out << "{\n  \"train_batch_size\": 4,\n  \"fp16\": {\"enabled\": tru}\n}\n";
  }
  std::string syntax = error_of([&] { load_config(path, 1); });
  EXPECT_EQ(syntax.rfind(path + ": invalid JSON: parse error at line 3", 0), 0u) << syntax;
  {
    std::ofstream out(path);
    out << "{\"train_batch_size\": 4, \"fp16\": {\"enabled\": 1}}";
  }
  std::string type = error_of([&] { load_config(path, 1); });
  EXPECT_EQ(type, path + ": fp16.enabled must be a boolean, got number 1");
}

// The example configs in configs/ parse with the values a training program offers for "auto".
TEST(Config, ExampleConfigsParse) {
  AutoValues autos = {
      {"train_micro_batch_size_per_gpu", {8, "--batch_size"}},
      {"gradient_accumulation_steps", {2, ""}},
      {"gradient_clipping", {1.0, ""}},
      {"optimizer.params.lr", {6e-4, "--lr"}},
      {"optimizer.params.betas", {json::array({0.9, 0.95}), ""}},
      {"optimizer.params.weight_decay", {0.1, ""}},
  };
  for (const std::string name : {"ds_zero0", "ds_zero1", "ds_zero2", "ds_zero3", "ds_zero3_offload"}) {
    std::string path = std::string(ZS_SOURCE_DIR) + "/configs/" + name + ".json";
    SCOPED_TRACE(path);
    Config c = load_config(path, 4, autos);
    EXPECT_EQ(c.zero.stage, name[7] - '0');
    EXPECT_EQ(c.precision, Precision::bf16);
    EXPECT_EQ(c.train_batch_size, 64);
    EXPECT_EQ(c.optimizer.type, "AdamW");
    EXPECT_DOUBLE_EQ(c.optimizer.lr, 6e-4);
    EXPECT_DOUBLE_EQ(c.optimizer.beta2, 0.95);
    EXPECT_DOUBLE_EQ(c.optimizer.weight_decay, 0.1);
    EXPECT_DOUBLE_EQ(c.gradient_clipping, 1.0);
    EXPECT_FALSE(c.scheduler.has_value());
    EXPECT_TRUE(c.warnings.empty());
    // Without the program's values, "auto" is an error that says what to set.
    EXPECT_THROW(load_config(path, 4), ConfigError);
    // The offload example: a partial offload (30% of the step on the CPU) with the CPU's units'
    // parameters in host memory too.
    const bool offload = name == std::string("ds_zero3_offload");
    EXPECT_EQ(c.zero.offload_optimizer.device, offload ? "cpu" : "none");
    EXPECT_DOUBLE_EQ(c.zero.offload_optimizer.ratio, offload ? 0.3 : 1.0);
    EXPECT_EQ(c.zero.offload_param.device, offload ? "cpu" : "none");
  }
}

class BadConfigTest : public ::testing::TestWithParam<config_test::BadConfig> {};

TEST_P(BadConfigTest, ThrowsClearError) {
  const auto& bad = GetParam();
  SCOPED_TRACE(bad.json);
  std::string message = error_of([&] { parse_config(bad.json, bad.world_size, bad.autos, "ds.json"); });
  ASSERT_FALSE(message.empty()) << "accepted";
  EXPECT_EQ(message.rfind("ds.json: ", 0), 0u) << message;
  EXPECT_NE(message.find(bad.expected), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Table, BadConfigTest, ::testing::ValuesIn(config_test::bad_configs()));

TEST(Config, BadConfigTableIsLarge) { EXPECT_GE(config_test::bad_configs().size(), 25u); }

TEST(ConfigEnv, PositiveIntegersOnly) {
  const char* name = "ZS_TEST_POSITIVE_INT";
  unsetenv(name);
  EXPECT_FALSE(zs::positive_int_from_env(name).has_value());
  setenv(name, "", 1);
  EXPECT_FALSE(zs::positive_int_from_env(name).has_value());
  setenv(name, "48", 1);
  EXPECT_EQ(zs::positive_int_from_env(name), 48);
  for (const char* bad : {"0", "-3", "12abc", "abc", "1.5", "99999999999999999999"}) {
    setenv(name, bad, 1);
    EXPECT_THROW(zs::positive_int_from_env(name), std::invalid_argument) << bad;
  }
  setenv(name, "x7", 1);
  EXPECT_NE(zs::testing::error_of([&] { zs::positive_int_from_env(name); }).find("ZS_TEST_POSITIVE_INT must be a positive integer, got \"x7\""),
            std::string::npos);
  unsetenv(name);
}

TEST(ConfigEnv, SwitchesAreZeroOrOne) {
  const char* name = "ZS_TEST_SWITCH";
  unsetenv(name);
  EXPECT_TRUE(zs::switch_from_env(name));
  setenv(name, "", 1);
  EXPECT_TRUE(zs::switch_from_env(name));
  setenv(name, "1", 1);
  EXPECT_TRUE(zs::switch_from_env(name));
  setenv(name, "0", 1);
  EXPECT_FALSE(zs::switch_from_env(name));
  setenv(name, "off", 1);
  EXPECT_NE(zs::testing::error_of([&] { zs::switch_from_env(name); }).find("ZS_TEST_SWITCH must be 0 (off) or 1 (on), got \"off\""),
            std::string::npos);
  unsetenv(name);
}

}  // namespace test_config
