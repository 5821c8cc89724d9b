// fp16 / bf16 sections and communication_data_type.
#include "zs/config/sections.hpp"

namespace zs::config_detail {

static void read_fp16(Section& top, Config& cfg, bool& fp16_enabled) {
  Section fp16 = top.child("fp16");
  fp16.allow_only({"enabled", "loss_scale", "initial_scale_power", "loss_scale_window", "hysteresis",
                   "consecutive_hysteresis", "min_loss_scale", "auto_cast", "fp16_master_weights_and_grads"});
  fp16_enabled = fp16.get_bool("enabled", false);

  LossScaleConfig& ls = cfg.loss_scale;
  ls.static_scale = fp16.get_double("loss_scale", ls.static_scale);
  require(ls.static_scale >= 0, fp16.key_path("loss_scale"), "at least 0 (0 means dynamic scaling)",
          number_text(ls.static_scale));

  int64_t power = fp16.get_int("initial_scale_power", ls.initial_scale_power);
  require(power >= 0 && power <= 64, fp16.key_path("initial_scale_power"), "between 0 and 64",
          std::to_string(power));
  ls.initial_scale_power = int(power);

  int64_t window = fp16.get_int("loss_scale_window", ls.loss_scale_window);
  require(window >= 1 && window <= 1000000000, fp16.key_path("loss_scale_window"), "a positive integer",
          std::to_string(window));
  ls.loss_scale_window = int(window);

  int64_t hysteresis = fp16.get_int("hysteresis", ls.hysteresis);
  require(hysteresis >= 1 && hysteresis <= 1000000000, fp16.key_path("hysteresis"), "a positive integer",
          std::to_string(hysteresis));
  ls.hysteresis = int(hysteresis);

  ls.consecutive_hysteresis = fp16.get_bool("consecutive_hysteresis", ls.consecutive_hysteresis);
  ls.min_loss_scale = fp16.get_double("min_loss_scale", ls.min_loss_scale);
  require(ls.min_loss_scale > 0, fp16.key_path("min_loss_scale"), "greater than 0",
          number_text(ls.min_loss_scale));

  refuse_unless_default(fp16, "fp16_master_weights_and_grads", false);
  // auto_cast casts the model's inputs to fp16 inside the engine; ZeroShard leaves inputs alone.
  if (fp16.get_bool("auto_cast", false))
    fail(fp16.key_path("auto_cast") +
         " true is not supported by ZeroShard: cast the inputs to half precision in your model, "
         "and set it to false");
}

static bool read_bf16(Section& top) {
  // "bfloat16" is an older name of the same section.
  bool has_bf16 = top.find("bf16") != nullptr, has_alias = top.find("bfloat16") != nullptr;
  if (has_bf16 && has_alias)
    fail("bf16 and bfloat16 are the same section given twice; keep only \"bf16\"");
  Section bf16 = top.child(has_alias ? "bfloat16" : "bf16");
  bf16.allow_only({"enabled", "immediate_grad_update", "check_grad_overflow", "bf16_master_weights_and_grads",
                   "bf16_optimizer_states"});
  refuse_unless_default(bf16, "immediate_grad_update", false);
  refuse_unless_default(bf16, "bf16_master_weights_and_grads", false);
  refuse_unless_default(bf16, "bf16_optimizer_states", false);
  // Steps are skipped on inf/nan gradients with fp16 only; bf16 trains through them.
  if (bf16.get_bool("check_grad_overflow", false))
    fail(bf16.key_path("check_grad_overflow") + " true (skip a step whose gradients overflow) is not available in "
         "ZeroShard for bf16; remove it or set it to false");
  return bf16.get_bool("enabled", false);
}

// Accepts the spellings torch and DeepSpeed users write; stores "fp32", "fp16" or "bf16".
std::optional<std::string> canonical_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32" || name == "float" || name == "torch.float32") return "fp32";
  if (name == "fp16" || name == "float16" || name == "half" || name == "torch.float16") return "fp16";
  if (name == "bf16" || name == "bfloat16" || name == "torch.bfloat16") return "bf16";
  return std::nullopt;
}

void read_precision(Section& top, Config& cfg) {
  bool fp16 = false;
  read_fp16(top, cfg, fp16);
  bool bf16 = read_bf16(top);
  if (fp16 && bf16) fail("fp16.enabled and bf16.enabled are both true; enable at most one of them");
  cfg.precision = fp16 ? Precision::fp16 : bf16 ? Precision::bf16 : Precision::fp32;

  if (auto name = top.opt_string("communication_data_type")) {
    auto dtype = canonical_dtype(*name);
    if (!dtype)
      fail("communication_data_type must be one of \"fp32\", \"fp16\", \"bf16\" (or float32, float, "
           "float16, half, bfloat16), got \"" + *name + "\"");
    cfg.communication_data_type = *dtype;
  }
}

}  // namespace zs::config_detail
