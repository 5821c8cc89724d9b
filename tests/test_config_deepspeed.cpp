// DeepSpeed configs as DeepSpeed and Hugging Face's Trainer take them: "auto" resolution (from the
// program's flags, the model, DeepSpeed's defaults, the batch rule; everything unresolvable in one
// message), what DeepSpeed's schema accepts (0 sizes, field names, deprecated names), settings that
// would do nothing refused, and the resolved configuration as the engine prints it.
#include <gtest/gtest.h>

#include "support/error_of.hpp"
#include "zs/config/config.hpp"
#include "zs/config/unbuilt_features.hpp"

namespace test_config_deepspeed {

using namespace zs;
using nlohmann::json;

namespace {

// The message of the ConfigError that `f` throws ("" if it throws none).
template <class F>
std::string error_of(F&& f) {
  return zs::testing::error_of<ConfigError>(std::forward<F>(f));
}

// Hugging Face's Trainer test config for ZeRO-3 (tests/deepspeed/ds_config_zero3.json), in short.
const char* kHfZero3 = R"({
  "fp16": {"enabled": "auto", "loss_scale": 0, "loss_scale_window": 1000, "initial_scale_power": 16,
           "hysteresis": 2, "min_loss_scale": 1},
  "optimizer": {"type": "AdamW", "params": {"lr": "auto", "betas": "auto", "eps": "auto", "weight_decay": "auto"}},
  "scheduler": {"type": "WarmupLR", "params": {"warmup_min_lr": "auto", "warmup_max_lr": "auto",
                                              "warmup_num_steps": "auto"}},
  "zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu", "pin_memory": true},
      "offload_param": {"device": "cpu", "pin_memory": true}, "overlap_comm": true, "contiguous_gradients": true,
      "sub_group_size": 1e14, "reduce_bucket_size": "auto", "stage3_prefetch_bucket_size": "auto",
      "stage3_param_persistence_threshold": "auto", "stage3_max_live_parameters": 1e9,
      "stage3_max_reuse_distance": 1e9, "stage3_gather_16bit_weights_on_model_save": true},
  "gradient_accumulation_steps": "auto", "gradient_clipping": "auto", "steps_per_print": 2000,
  "train_batch_size": "auto", "train_micro_batch_size_per_gpu": "auto", "wall_clock_breakdown": false
})";

// What a trainer offers for them: its flags (some given, some defaults) and the model.
AutoValues trainer_values(bool lr_given) {
  AutoValues autos = {
      {"train_micro_batch_size_per_gpu", flag_value(4, "--batch_size", true)},
      {"gradient_accumulation_steps", flag_value(2, "--gradient_accumulation_steps", false)},
      {"gradient_clipping", flag_value(1.0, "--grad_clip", false)},
      {"optimizer.params.lr", flag_value(3e-4, "--learning_rate", lr_given)},
      {"optimizer.params.betas", flag_value(json::array({0.9, 0.95}), "--beta1", false)},
      {"optimizer.params.eps", AutoValue(1e-8, "", "", "AdamW's default")},
      {"optimizer.params.weight_decay", flag_value(0.1, "--weight_decay", false)},
      {"scheduler.params.warmup_min_lr", AutoValue(0.0, "", "", "0, as Hugging Face's Trainer")},
      {"scheduler.params.warmup_max_lr", flag_value(3e-4, "--learning_rate", lr_given)},
      {"scheduler.params.warmup_num_steps", flag_value(10, "--warmup_iters", false)},
      {"fp16.enabled", flag_value(false, "--dtype", true, "bfloat16")},
      {"bf16.enabled", flag_value(true, "--dtype", true, "bfloat16")},
  };
  add_model_auto_values(autos, 768);
  return autos;
}

const AutoResolution* resolution(const Config& c, const std::string& path) {
  for (const auto& r : c.autos_resolved)
    if (r.path == path) return &r;
  return nullptr;
}

}  // namespace

TEST(ConfigAuto, HuggingFaceZero3ResolvesFromFlagsAndModel) {
  Config c = read_config(kHfZero3, 2, trainer_values(true));
  EXPECT_EQ(c.train_micro_batch_size_per_gpu, 4);
  EXPECT_EQ(c.gradient_accumulation_steps, 2);
  EXPECT_EQ(c.train_batch_size, 16);  // the batch rule, as the Trainer computes it
  EXPECT_EQ(c.precision, Precision::fp32);  // fp16.enabled false; the config has no bf16 section
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 3e-4);
  EXPECT_DOUBLE_EQ(c.optimizer.beta2, 0.95);
  EXPECT_DOUBLE_EQ(c.optimizer.eps, 1e-8);
  EXPECT_DOUBLE_EQ(c.gradient_clipping, 1.0);
  EXPECT_DOUBLE_EQ(c.scheduler->warmup_max_lr, 3e-4);
  EXPECT_EQ(c.scheduler->warmup_num_steps, 10);
  // Hugging Face's formulas from the hidden size (768).
  EXPECT_EQ(c.zero.reduce_bucket_size, 768 * 768);
  EXPECT_EQ(c.zero.stage3_prefetch_bucket_size, 530841);  // int(0.9 * 768²)
  EXPECT_EQ(c.zero.stage3_param_persistence_threshold, 7680);
  EXPECT_EQ(c.zero.sub_group_size, int64_t(1e14));
  // Where each value came from.
  EXPECT_EQ(resolution(c, "optimizer.params.lr")->origin, "--learning_rate");
  EXPECT_EQ(resolution(c, "optimizer.params.weight_decay")->origin, "default of --weight_decay");
  EXPECT_EQ(resolution(c, "zero_optimization.reduce_bucket_size")->origin, "model: hidden size 768, 768²");
  EXPECT_EQ(resolution(c, "train_batch_size")->origin, "batch rule: 16 = micro 4 x accumulation 2 x 2 rank(s)");
  EXPECT_EQ(resolution(c, "train_batch_size")->value, 16);
  EXPECT_EQ(resolution(c, "fp16.enabled")->origin, "--dtype");
  EXPECT_EQ(c.autos_resolved.size(), 15u);
  // The resolved document holds the values used.
  EXPECT_EQ(c.raw["zero_optimization"]["reduce_bucket_size"], 589824);
  EXPECT_EQ(c.raw["train_batch_size"], 16);
}

TEST(ConfigAuto, EveryUnresolvableAutoInOneMessage) {
  const std::string e = error_of([] { read_config(kHfZero3, 2, {}, "ds_config_zero3.json"); });
  EXPECT_CONTAINS(e, "ds_config_zero3.json: 11 keys are \"auto\" but this program has no value for them; set each in "
                     "the config:\n");
  for (const char* line : {"\n  optimizer.params.lr: the learning rate", "\n  optimizer.params.betas: ",
                           "\n  optimizer.params.eps: e.g. 1e-8", "\n  optimizer.params.weight_decay: ",
                           "\n  scheduler.params.warmup_min_lr: ", "\n  scheduler.params.warmup_max_lr: ",
                           "\n  scheduler.params.warmup_num_steps: optimizer steps of warmup",
                           "\n  gradient_clipping: the largest gradient norm", "\n  train_batch_size: ",
                           "\n  train_micro_batch_size_per_gpu: samples per rank per micro-step",
                           "\n  gradient_accumulation_steps: "})
    EXPECT_CONTAINS(e, line);
  // fp16.enabled and the bucket sizes are in sections DeepSpeed reads through its schema, where
  // "auto" means DeepSpeed's default: they are not in the list.
  EXPECT_EQ(e.find("fp16.enabled"), std::string::npos) << e;
  EXPECT_EQ(e.find("reduce_bucket_size"), std::string::npos) << e;
  // With the micro batch known, the batch triple is no longer in the list.
  const std::string e2 = error_of([] {
    read_config(kHfZero3, 2, {{"train_micro_batch_size_per_gpu", AutoValue(2)}});
  });
  EXPECT_CONTAINS(e2, "8 keys are \"auto\"");
  EXPECT_EQ(e2.find("gradient_accumulation_steps"), std::string::npos) << e2;
}

TEST(ConfigAuto, SchemaSectionsTakeDeepSpeedsDefault) {
  Config c = read_config(R"({"train_batch_size": 4, "fp16": {"enabled": "auto"},
      "zero_optimization": {"stage": 2, "reduce_bucket_size": "auto", "allgather_bucket_size": "auto",
                            "offload_optimizer": {"device": "cpu", "pin_memory": "auto"}}})",
                         1);
  EXPECT_EQ(c.precision, Precision::fp32);
  EXPECT_EQ(c.zero.reduce_bucket_size, 500000000);
  EXPECT_EQ(c.zero.allgather_bucket_size, 500000000);
  EXPECT_EQ(resolution(c, "zero_optimization.reduce_bucket_size")->origin, "DeepSpeed's default");
  EXPECT_EQ(resolution(c, "zero_optimization.reduce_bucket_size")->value, 500000000);
  EXPECT_EQ(resolution(c, "fp16.enabled")->value, false);
  EXPECT_EQ(resolution(c, "zero_optimization.offload_optimizer.pin_memory")->value, false);
  EXPECT_EQ(c.raw["zero_optimization"]["allgather_bucket_size"], 500000000);
  EXPECT_EQ(c.raw["fp16"]["enabled"], false);
}

TEST(ConfigAuto, ContradictionsAreReportedTogetherWithTheValuesTyped) {
  AutoValues autos = {{"optimizer.params.lr", flag_value(0.001, "--learning_rate", true)},
                      {"bf16.enabled", flag_value(false, "--dtype", true, "float32")},
                      {"fp16.enabled", flag_value(false, "--dtype", true, "float32")},
                      {"gradient_clipping", flag_value(0.5, "--grad_clip", true)}};
  const std::string e = error_of([&] {
    read_config(R"({"train_batch_size": 1, "bf16": {"enabled": true}, "gradient_clipping": 1.0,
                    "optimizer": {"type": "AdamW", "params": {"lr": 3e-4}}})",
                1, autos);
  });
  EXPECT_CONTAINS(e, "3 config values contradict flags given on the command line (make them \"auto\" in the config, "
                     "or leave the flags out):");
  EXPECT_CONTAINS(e, "\n  bf16.enabled is true in the config but --dtype float32 was given on the command line");
  EXPECT_CONTAINS(e, "\n  optimizer.params.lr is 0.0003 in the config but --learning_rate 0.001 was given");
  EXPECT_CONTAINS(e, "\n  gradient_clipping is 1 in the config but --grad_clip 0.5 was given");
  // --dtype is used when either precision section is in the config: no "has no effect" warning.
  Config c = read_config(R"({"train_batch_size": 1, "bf16": {"enabled": false}})", 1,
                         {{"bf16.enabled", flag_value(false, "--dtype", true, "float32")},
                          {"fp16.enabled", flag_value(false, "--dtype", true, "float32")}});
  EXPECT_TRUE(c.warnings.empty());
  Config unused = read_config(R"({"train_batch_size": 1})", 1,
                              {{"fp16.enabled", flag_value(true, "--dtype", true, "float16")}});
  ASSERT_EQ(unused.warnings.size(), 1u);
  EXPECT_EQ(unused.warnings[0], "--dtype float16 was given but the config has no fp16.enabled, so it has no effect; "
                                "write \"fp16\": {\"enabled\": \"auto\"} in the config to use it");
}

TEST(ConfigAuto, ModelValuesDoNotReplaceTheProgramsOwn) {
  AutoValues autos = {{"zero_optimization.reduce_bucket_size", AutoValue(1000)}};
  add_model_auto_values(autos, 64);
  EXPECT_EQ(autos.at("zero_optimization.reduce_bucket_size").value, 1000);
  EXPECT_EQ(autos.at("zero_optimization.stage3_prefetch_bucket_size").value, 3686);  // int(0.9 * 4096)
  EXPECT_EQ(autos.at("zero_optimization.stage3_param_persistence_threshold").value, 640);
  AutoValue v = flag_value(8, "--batch_size", false);
  EXPECT_TRUE(v.explicit_flag.empty());
  EXPECT_EQ(v.origin, "default of --batch_size");
}

TEST(ConfigSchema, ZeroSizesAndThresholdsMayBeZero) {
  Config c = parse_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3, "reduce_bucket_size": 0,
      "allgather_bucket_size": 0, "stage3_prefetch_bucket_size": 0, "stage3_param_persistence_threshold": 0,
      "stage3_max_live_parameters": 0, "stage3_max_reuse_distance": 0, "sub_group_size": 0}})",
                          1);
  EXPECT_EQ(c.zero.reduce_bucket_size, 0);
  EXPECT_EQ(c.zero.allgather_bucket_size, 0);
  EXPECT_EQ(c.zero.stage3_prefetch_bucket_size, 0);
  EXPECT_EQ(c.zero.stage3_param_persistence_threshold, 0);
  EXPECT_EQ(c.zero.sub_group_size, 0);
  // Scientific notation for integers, as DeepSpeed's schema takes it; a fraction is not an integer.
  Config sci = parse_config(R"({"train_batch_size": 1, "zero_optimization": {"reduce_bucket_size": 5e8,
      "sub_group_size": 1e14}})", 1);
  EXPECT_EQ(sci.zero.reduce_bucket_size, 500000000);
  EXPECT_EQ(sci.zero.sub_group_size, 100000000000000);
  EXPECT_CONTAINS(error_of([] { parse_config(R"({"train_batch_size": 1, "zero_optimization": {"reduce_bucket_size": 5.5e-1}})", 1); }),
                  "zero_optimization.reduce_bucket_size must be an integer, got number 0.55");
}

TEST(ConfigSchema, FieldNamesAndDeprecatedNames) {
  // DeepSpeed accepts the stage-3 keys by their field names too.
  Config c = read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3, "prefetch_bucket_size": 7,
      "param_persistence_threshold": 8, "max_live_parameters": 9, "max_reuse_distance": 10,
      "gather_16bit_weights_on_model_save": true}})",
                         1);
  EXPECT_EQ(c.zero.stage3_prefetch_bucket_size, 7);
  EXPECT_EQ(c.zero.stage3_param_persistence_threshold, 8);
  EXPECT_EQ(c.zero.stage3_max_live_parameters, 9);
  EXPECT_EQ(c.zero.stage3_max_reuse_distance, 10);
  EXPECT_TRUE(c.zero.stage3_gather_16bit_weights_on_model_save);
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"prefetch_bucket_size": 7,
                        "stage3_prefetch_bucket_size": 7}})", 1);
                  }),
                  "zero_optimization.stage3_prefetch_bucket_size and zero_optimization.prefetch_bucket_size are the "
                  "same setting under two names; keep one");

  Config old = read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3, "cpu_offload": true,
      "cpu_offload_param": true, "cpu_offload_use_pin_memory": true, "stage3_gather_fp16_weights_on_model_save": true}})",
                           1);
  EXPECT_EQ(old.zero.offload_optimizer.device, "cpu");
  EXPECT_EQ(old.zero.offload_param.device, "cpu");
  EXPECT_TRUE(old.zero.offload_optimizer.pin_memory);
  EXPECT_TRUE(old.zero.offload_param.pin_memory);
  EXPECT_TRUE(old.zero.stage3_gather_16bit_weights_on_model_save);
  ASSERT_EQ(old.warnings.size(), 4u);
  std::string all;
  for (const auto& w : old.warnings) all += w + "\n";
  EXPECT_CONTAINS(all, "zero_optimization.cpu_offload is deprecated; use \"offload_optimizer\": {\"device\": \"cpu\"}");
  EXPECT_CONTAINS(all, "zero_optimization.cpu_offload_param is deprecated; use \"offload_param\"");
  EXPECT_CONTAINS(all, "zero_optimization.cpu_offload_use_pin_memory is deprecated");
  EXPECT_CONTAINS(all, "stage3_gather_fp16_weights_on_model_save is deprecated");
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3, "cpu_offload_param": true,
                        "offload_param": {"device": "cpu"}}})", 1);
                  }),
                  "cpu_offload_param (deprecated) and zero_optimization.offload_param are both given");
  // The oldest form: "zero_optimization": true with the bucket in "allgather_size".
  Config boolean = read_config(R"({"train_batch_size": 1, "zero_optimization": true, "allgather_size": 2e8})", 1);
  EXPECT_EQ(boolean.zero.stage, 1);
  EXPECT_EQ(boolean.zero.allgather_bucket_size, 200000000);
  EXPECT_CONTAINS(error_of([] { read_config(R"({"train_batch_size": 1, "allgather_size": 2e8})", 1); }),
                  "allgather_size belongs to the deprecated \"zero_optimization\": true form");
}

TEST(ConfigSchema, DeepSpeedOnlySettingsAtTheirDefaultsOnly) {
  Config c = read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3, "zero_hpz_partition_size": 1,
      "zero_quantized_weights": false, "stage3_model_persistence_threshold": 9223372036854775807,
      "memory_efficient_linear": true, "leaf_module": {"classes": []},
      "offload_optimizer": {"device": "cpu", "cpuadam_cores_perc": 0.8, "super_offload": false}}})",
                         1);
  EXPECT_EQ(c.zero.stage, 3);
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"zeropp_loco_param": {"err_beta": 0.8}}})", 1);
                  }),
                  "zero_optimization.zeropp_loco_param");
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"leaf_module": {"classes": ["X"]}}})", 1);
                  }),
                  "zero_optimization.leaf_module.classes: ZeRO-3 leaf modules are a DeepSpeed setting");
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"ignore_unused_parameters": false}})", 1);
                  }),
                  "zero_optimization.ignore_unused_parameters false (stop on parameters that get no gradient) is not "
                  "available in ZeroShard");
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"load_from_fp32_weights": false}})", 1);
                  }),
                  "load_from_fp32_weights false is not available in ZeroShard");
  // A misspelling still gets its suggestion.
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"cpu_offload_params": true}})", 1);
                  }),
                  "zero_optimization.cpu_offload_params: unknown key; did you mean \"cpu_offload_param\"?");
}

// offload_optimizer.super_offload: DeepSpeed's stage-3 switch for CPU updates begun in backward;
// refused where ZeroShard cannot begin them (below stage 3, NVMe state or shards).
TEST(ConfigSchema, SuperOffload) {
  Config c = read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3,
      "offload_optimizer": {"device": "cpu", "super_offload": true}, "offload_param": {"device": "cpu"}}})",
                         1);
  EXPECT_TRUE(c.zero.offload_optimizer.super_offload);
  EXPECT_EQ(resolved_json(c)["zero_optimization"]["offload_optimizer"]["super_offload"], true);
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 2,
                        "offload_optimizer": {"device": "cpu", "super_offload": true}}})", 1);
                  }),
                  "zero_optimization.offload_optimizer.super_offload needs zero_optimization.stage 3, as in DeepSpeed "
                  "(the stage is 2; at stages 1-2 offload_optimizer.overlap_step");
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3,
                        "offload_optimizer": {"device": "nvme", "nvme_path": "/tmp", "super_offload": true}}})", 1);
                  }),
                  "zero_optimization.offload_optimizer.super_offload needs zero_optimization.offload_optimizer.device "
                  "\"cpu\"");
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3,
                        "offload_optimizer": {"device": "cpu", "super_offload": true},
                        "offload_param": {"device": "nvme", "nvme_path": "/tmp"}}})", 1);
                  }),
                  "super_offload cannot start updates in backward while the parameter shards live in files");
  // cpuadam_cores_perc: read with super_offload, in (0, 1]; another value without it is refused.
  EXPECT_EQ(read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3,
      "offload_optimizer": {"device": "cpu", "super_offload": true, "cpuadam_cores_perc": 0.5}}})", 1)
                .zero.offload_optimizer.cpuadam_cores_perc,
            0.5);
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3,
                        "offload_optimizer": {"device": "cpu", "cpuadam_cores_perc": 0.5}}})", 1);
                  }),
                  "zero_optimization.offload_optimizer.cpuadam_cores_perc sets the CPU Adam's share of the cores with "
                  "zero_optimization.offload_optimizer.super_offload true");
  EXPECT_CONTAINS(error_of([] {
                    read_config(R"({"train_batch_size": 1, "zero_optimization": {"stage": 3,
                        "offload_optimizer": {"device": "cpu", "super_offload": true, "cpuadam_cores_perc": 0}}})", 1);
                  }),
                  "cpuadam_cores_perc must be above 0 and at most 1");
}

// ZeRO++'s keys with DeepSpeed's meaning: read at stage 3, refused below it (as DeepSpeed ties them
// to stage 3) and where the combination cannot run.
TEST(ConfigSchema, ZeroPlusPlusKeys) {
  Config c = read_config(R"({"train_batch_size": 4, "zero_optimization": {"stage": 3, "zero_quantized_weights": true,
      "zero_quantized_gradients": true, "zero_hpz_partition_size": 2, "zero_quantized_nontrainable_weights": false}})",
                         4);
  EXPECT_TRUE(c.zero.zero_quantized_weights);
  EXPECT_TRUE(c.zero.zero_quantized_gradients);
  EXPECT_EQ(c.zero.zero_hpz_partition_size, 2);
  EXPECT_TRUE(c.zero.zeropp());
  EXPECT_EQ(resolved_json(c)["zero_optimization"]["zero_hpz_partition_size"], 2);
  Config off = read_config(R"({"train_batch_size": 4, "zero_optimization": {"stage": 3}})", 4);
  EXPECT_FALSE(off.zero.zeropp());
  // At their defaults the keys are fine at any stage.
  EXPECT_NO_THROW(read_config(R"({"train_batch_size": 4, "zero_optimization": {"stage": 1, "zero_quantized_weights": false,
      "zero_hpz_partition_size": 1}})", 4));
  auto bad = [](const std::string& zero, int world) {
    return error_of([&] { read_config(R"({"train_batch_size": 4, "zero_optimization": )" + zero + "}", world); });
  };
  EXPECT_CONTAINS(bad(R"({"stage": 2, "zero_quantized_gradients": true})", 4),
                  "zero_optimization.zero_quantized_gradients needs zero_optimization.stage 3, as in DeepSpeed (the stage is 2)");
  EXPECT_CONTAINS(bad(R"({"stage": 1, "zero_hpz_partition_size": 2})", 4),
                  "zero_optimization.zero_hpz_partition_size 2 needs zero_optimization.stage 3");
  EXPECT_CONTAINS(bad(R"({"stage": 3, "zero_hpz_partition_size": 3})", 4),
                  "zero_optimization.zero_hpz_partition_size 3 does not divide the 4 ranks");
  EXPECT_CONTAINS(bad(R"({"stage": 3, "zero_hpz_partition_size": 0})", 4),
                  "zero_optimization.zero_hpz_partition_size must be a positive integer (1: off)");
  EXPECT_CONTAINS(bad(R"({"stage": 3, "zero_quantized_nontrainable_weights": true})", 4),
                  "zero_quantized_nontrainable_weights true: frozen parameters are not partitioned in ZeroShard");
  EXPECT_CONTAINS(bad(R"({"stage": 3, "zero_hpz_partition_size": 2, "offload_optimizer": {"device": "cpu"},
                          "offload_param": {"device": "cpu"}})", 4),
                  "the secondary partition is a device copy of the parameter shards");
  EXPECT_CONTAINS(bad(R"({"stage": 3, "zero_quantized_gradients": true, "reduce_scatter": false})", 4),
                  "zero_optimization.reduce_scatter false asks for all-reduce");
  EXPECT_CONTAINS(bad(R"({"stage": 3, "zero_quantized_weights": 1})", 4), "zero_optimization.zero_quantized_weights");
}

TEST(ConfigSchema, SettingsThatWouldDoNothingAreRefused) {
  auto refused = [](const std::string& body) {
    return error_of([&] { parse_config("{\"train_batch_size\": 1, " + body + "}", 1, {}, "ds.json"); });
  };
  EXPECT_EQ(refused(R"("comms_logger": {"enabled": true, "debug": true})"),
            "ds.json: comms_logger.debug: ZeroShard cannot add the calling function's name to each collective (C++ keeps "
            "no caller names); set it to false (the log names each collective's type and size)");
  EXPECT_CONTAINS(refused(R"("comms_logger": {"enabled": true, "prof_all": false})"), "would log nothing");
  EXPECT_CONTAINS(refused(R"("comms_logger": {"enabled": true, "prof_ops": ["all_to_all"]})"),
                  "comms_logger.prof_ops");
  EXPECT_CONTAINS(refused(R"("wandb": {"enabled": true})"),
                  "wandb.enabled: ZeroShard cannot log to Weights & Biases (its client library is Python only)");
  EXPECT_CONTAINS(refused(R"("comet": {"enabled": true})"), "comet.enabled (Comet logging) is not available");
  EXPECT_CONTAINS(refused(R"("autotuning": {"enabled": true, "fast": true})"),
                  "autotuning is not available in ZeroShard yet; remove it or switch it off (\"enabled\": false)");
  EXPECT_CONTAINS(refused(R"("graph_harvesting": true)"), "graph_harvesting is not available in ZeroShard yet");
  EXPECT_CONTAINS(refused(R"("torch_autocast": {"enabled": true, "dtype": "torch.bfloat16"})"),
                  "torch_autocast: this DeepSpeed feature is not supported by ZeroShard");
  EXPECT_CONTAINS(refused(R"("tensor_parallel": {"autotp_size": 4})"), "tensor_parallel: this DeepSpeed feature");
  EXPECT_CONTAINS(refused(R"("gradient_allreduce_op": "sum")"), "gradient_allreduce_op \"sum\" is not available");
  EXPECT_CONTAINS(refused(R"("data_types": {"grad_accum_dtype": "fp32"}, "bf16": {"enabled": true})"),
                  "data_types.grad_accum_dtype \"fp32\" is not available in ZeroShard");
  // Off, or at their defaults, they are fine.
  Config off = parse_config(R"({"train_batch_size": 1, "wall_clock_breakdown": false, "memory_breakdown": false,
      "comms_logger": {"enabled": false}, "autotuning": {"enabled": false}, "torch_autocast": {"enabled": false},
      "tensor_parallel": {"autotp_size": 1}, "gradient_allreduce_op": "mean", "graph_harvesting": false,
      "data_types": {"grad_accum_dtype": "fp32"}, "compile": {"deepcompile": false}})",
                            1);
  EXPECT_TRUE(off.warnings.empty());
  // An older switch that does something: fp32_allreduce is communication_data_type "fp32".
  Config fp32 = parse_config(R"({"train_batch_size": 1, "bf16": {"enabled": true}, "fp32_allreduce": true})", 1);
  EXPECT_EQ(*fp32.communication_data_type, "fp32");
  ASSERT_EQ(fp32.warnings.size(), 1u);
  // Tooling settings of paths ZeroShard does not have are named in a warning.
  Config ignored = parse_config(R"({"train_batch_size": 1, "aio": {"block_size": 1048576}, "checkpoint": {},
      "dataloader_drop_last": true})", 1);
  ASSERT_EQ(ignored.warnings.size(), 3u);
  EXPECT_EQ(ignored.warnings[0], "aio: a DeepSpeed setting ZeroShard does not use; ignored");
}

TEST(ConfigSchema, SchedulerFollowsDeepSpeed) {
  // Without warmup_max_lr, warmup ends at the optimizer's lr.
  Config c = parse_config(R"({"train_batch_size": 1, "optimizer": {"type": "AdamW", "params": {"lr": 3e-4}},
      "scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": 5}}})",
                          1);
  EXPECT_DOUBLE_EQ(c.scheduler->warmup_max_lr, 3e-4);
  EXPECT_CONTAINS(error_of([] {
                    parse_config(R"({"train_batch_size": 1, "scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": 0}}})", 1);
                  }),
                  "scheduler.params.warmup_num_steps must be a positive integer, got 0");
}

TEST(ConfigDescribe, PrintsEverySettingAndWhereEachAutoCameFrom) {
  Config c = read_config(kHfZero3, 2, trainer_values(false));
  const json resolved = resolved_json(c);
  for (const char* section : {"fp16", "bf16", "optimizer", "scheduler", "zero_optimization", "activation_checkpointing",
                              "flops_profiler", "tensorboard", "csv_monitor", "wandb", "comet", "comms_logger"})
    EXPECT_TRUE(resolved.contains(section)) << section;
  EXPECT_EQ(resolved["zero_optimization"]["offload_param"]["device"], "cpu");
  EXPECT_EQ(resolved["scheduler"]["params"]["warmup_num_steps"], 10);

  const std::string text = describe_config(c, "[zs] ");
  EXPECT_EQ(text.rfind("[zs] DeepSpeed configuration (resolved; defaults included):\n", 0), 0u) << text;
  EXPECT_CONTAINS(text, "\n[zs]   zero_optimization.reduce_bucket_size ...");
  EXPECT_CONTAINS(text, "... 589824\n");
  EXPECT_CONTAINS(text, "zero_optimization.sub_group_size ");
  EXPECT_CONTAINS(text, "100000000000000  (the optimizer step here runs one bucket or unit at a time)\n");
  EXPECT_CONTAINS(text, "\n[zs] \"auto\" values:\n");
  EXPECT_CONTAINS(text, " 0.0003  <- default of --learning_rate\n");
  EXPECT_CONTAINS(text, " 589824  <- model: hidden size 768, 768²\n");
  EXPECT_CONTAINS(text, " false  <- --dtype\n");
  EXPECT_CONTAINS(text, "\n[zs]   json = {\n[zs]       \"fp16\": {");
  // Every line carries the prefix.
  size_t lines = 0, prefixed = 0;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    ++lines;
    if (text.compare(start, 5, "[zs] ") == 0) ++prefixed;
    start = end + 1;
  }
  EXPECT_EQ(lines, prefixed);
  EXPECT_GT(lines, 100u);
}

}  // namespace test_config_deepspeed
