// optimizer.{type, params}: Adam, AdamW, SGD, Lion and Adagrad with DeepSpeed's parameter names and
// defaults (Lion and Adagrad are, with Adam, the optimizers DeepSpeed's ZeRO runs without
// zero_allow_untested_optimizer).
//
// DeepSpeed runs "Adam" as AdamW (decoupled weight decay) unless params.adam_w_mode is false.
// ZeroShard resolves that here: OptimizerConfig.type is "AdamW" for decoupled weight decay and
// "Adam" for L2-style weight decay, with adam_w_mode kept consistent, so later layers only
// look at `type`.
#include <algorithm>

#include "zs/base/strings.hpp"
#include "zs/config/sections.hpp"

namespace zs::config_detail {

// Optimizer names DeepSpeed knows (lowercase), to tell "not supported" from "misspelled".
static const std::vector<std::string> kDeepSpeedOnlyOptimizers = {
    "lamb", "onebitadam", "zerooneadam", "onebitlamb", "muadam", "muadamw",
    "musgd", "muon", "fusedadam", "cpuadam"};

static std::string optimizer_type_name(const std::string& path, const std::string& type) {
  std::string lower = ascii_lowercase(type);
  if (lower == "adam") return "Adam";
  if (lower == "adamw") return "AdamW";
  if (lower == "sgd") return "SGD";
  if (lower == "lion") return "Lion";
  if (lower == "adagrad") return "Adagrad";
  std::string message =
      path + " \"" + type + "\" is not supported by ZeroShard (supported: Adam, AdamW, SGD, Lion, Adagrad)";
  bool deepspeed_has_it = std::find(kDeepSpeedOnlyOptimizers.begin(), kDeepSpeedOnlyOptimizers.end(),
                                    lower) != kDeepSpeedOnlyOptimizers.end();
  if (!deepspeed_has_it) {
    std::string guess = closest_name(lower, {"adam", "adamw", "sgd", "lion", "adagrad"});
    if (!guess.empty()) message += "; did you mean \"" + optimizer_type_name(path, guess) + "\"?";
  }
  fail(message);
}

static void read_betas(Section& params, OptimizerConfig& opt) {
  auto betas = params.get_numbers("betas", {opt.beta1, opt.beta2});
  opt.beta1 = betas[0];
  opt.beta2 = betas[1];
  for (double b : betas)
    if (!(b >= 0 && b < 1))
      fail(params.key_path("betas") + " must be two numbers in [0, 1), got " + params.find("betas")->dump());
}

static void read_adam_params(Section& params, OptimizerConfig& opt) {
  read_betas(params, opt);
  opt.eps = params.get_double("eps", opt.eps);
  require(opt.eps > 0, params.key_path("eps"), "greater than 0", number_text(opt.eps));
  opt.torch_adam = params.get_bool("torch_adam", false);

  auto adam_w_mode = params.opt_bool("adam_w_mode");
  if (opt.type == "AdamW" && adam_w_mode == false)
    fail(params.key_path("adam_w_mode") +
         " is false but optimizer.type is AdamW (decoupled weight decay); use type \"Adam\" for L2 weight decay");
  opt.adam_w_mode = adam_w_mode.value_or(true);
  if (opt.type == "Adam" && opt.adam_w_mode) opt.type = "AdamW";

  if (params.get_bool("amsgrad", false))
    fail(params.key_path("amsgrad") + " true is not supported by ZeroShard; remove it or set it to false");
  if (!params.get_bool("bias_correction", true))
    fail(params.key_path("bias_correction") + " false is not supported by ZeroShard; remove it or set it to true");
}

// torch.optim.Adagrad's defaults (lr 1e-2, eps 1e-10), which DeepSpeed's CPU Adagrad shares.
static void read_adagrad_params(Section& params, OptimizerConfig& opt) {
  if (!params.find("lr")) opt.lr = 1e-2;
  opt.eps = params.get_double("eps", 1e-10);
  require(opt.eps >= 0, params.key_path("eps"), "at least 0", number_text(opt.eps));
  opt.lr_decay = params.get_double("lr_decay", 0.0);
  require(opt.lr_decay >= 0, params.key_path("lr_decay"), "at least 0", number_text(opt.lr_decay));
  const double initial = params.get_double("initial_accumulator_value", 0.0);
  if (initial != 0.0)
    fail(params.key_path("initial_accumulator_value") + " " + number_text(initial) +
         " is not supported by ZeroShard (the sums start at 0); remove it or set it to 0");
}

static void read_sgd_params(Section& params, OptimizerConfig& opt) {
  opt.momentum = params.get_double("momentum", 0.0);
  require(opt.momentum >= 0, params.key_path("momentum"), "at least 0", number_text(opt.momentum));
  opt.dampening = params.get_double("dampening", 0.0);
  require(opt.dampening >= 0 && opt.dampening <= 1, params.key_path("dampening"), "between 0 and 1",
          number_text(opt.dampening));
  opt.nesterov = params.get_bool("nesterov", false);
  if (opt.nesterov && (opt.momentum <= 0 || opt.dampening != 0))
    fail(params.key_path("nesterov") + " requires momentum > 0 and dampening 0, got momentum " +
         number_text(opt.momentum) + " and dampening " + number_text(opt.dampening));
}

void read_optimizer(Section& top, Config& cfg) {
  Section section = top.child("optimizer");
  if (!section.exists()) return;
  section.allow_only({"type", "params"});
  OptimizerConfig& opt = cfg.optimizer;
  opt.present = true;
  auto type = section.opt_string("type");
  if (!type) fail("optimizer.type is missing (supported: Adam, AdamW, SGD, Lion, Adagrad)");
  opt.type = optimizer_type_name(section.key_path("type"), *type);

  Section params = section.child("params");
  if (opt.type == "SGD")
    params.allow_only({"lr", "momentum", "dampening", "weight_decay", "nesterov"}, "for SGD");
  else if (opt.type == "Lion")
    params.allow_only({"lr", "betas", "weight_decay"}, "for Lion");
  else if (opt.type == "Adagrad")
    params.allow_only({"lr", "eps", "weight_decay", "lr_decay", "initial_accumulator_value"}, "for Adagrad");
  else
    params.allow_only({"lr", "betas", "eps", "weight_decay", "adam_w_mode", "torch_adam", "amsgrad",
                       "bias_correction"},
                      "for " + opt.type);
  opt.lr = params.get_double("lr", opt.lr);
  require(opt.lr >= 0, params.key_path("lr"), "at least 0", number_text(opt.lr));
  opt.weight_decay = params.get_double("weight_decay", 0.0);
  require(opt.weight_decay >= 0, params.key_path("weight_decay"), "at least 0",
          number_text(opt.weight_decay));
  if (opt.type == "SGD") {
    opt.adam_w_mode = false;
    read_sgd_params(params, opt);
  } else if (opt.type == "Lion") {
    read_betas(params, opt);  // weight decay is decoupled, as in AdamW
  } else if (opt.type == "Adagrad") {
    opt.adam_w_mode = false;        // weight decay joins the gradient (L2), as in torch
    read_adagrad_params(params, opt);
  } else {
    read_adam_params(params, opt);
  }
}

}  // namespace zs::config_detail
