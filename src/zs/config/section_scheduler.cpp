// scheduler.{type, params}: WarmupLR, WarmupDecayLR, WarmupCosineLR and OneCycle, with
// DeepSpeed's parameter names and defaults (see SchedulerConfig).

#include "zs/base/strings.hpp"
#include "zs/config/sections.hpp"

namespace zs::config_detail {

static const std::vector<std::string> kSchedulerTypes = {"WarmupLR", "WarmupDecayLR", "WarmupCosineLR",
                                                         "OneCycle"};

static std::vector<std::string> lowercase_all(std::vector<std::string> names) {
  for (auto& n : names) n = ascii_lowercase(n);
  return names;
}

static std::vector<std::string> params_of(const std::string& type) {
  if (type == "WarmupLR")
    return {"warmup_min_lr", "warmup_max_lr", "warmup_num_steps", "warmup_type", "last_batch_iteration"};
  if (type == "WarmupDecayLR")
    return {"warmup_min_lr",  "warmup_max_lr", "warmup_num_steps", "warmup_type", "total_num_steps",
            "last_batch_iteration"};
  if (type == "WarmupCosineLR")
    return {"warmup_min_ratio", "cos_min_ratio", "warmup_num_steps", "warmup_type", "total_num_steps",
            "last_batch_iteration"};
  return {"cycle_min_lr",          "cycle_max_lr",           "decay_lr_rate",     "cycle_first_step_size",
          "cycle_second_step_size", "cycle_first_stair_count", "cycle_second_stair_count",
          "decay_step_size",       "cycle_momentum",         "cycle_min_mom",     "cycle_max_mom",
          "decay_mom_rate",        "last_batch_iteration"};
}

static std::string scheduler_type_name(const std::string& path, const std::string& type) {
  for (const auto& known : kSchedulerTypes)
    if (type == known) return known;
  std::string message = path + " \"" + type + "\" is not supported by ZeroShard (supported: WarmupLR, "
                        "WarmupDecayLR, WarmupCosineLR, OneCycle)";
  std::string guess = closest_name(ascii_lowercase(type), lowercase_all(kSchedulerTypes));
  for (const auto& known : kSchedulerTypes)
    if (ascii_lowercase(known) == guess) guess = known;
  if (!guess.empty()) message += "; did you mean \"" + guess + "\"?";
  fail(message);
}

static void read_warmup(Section& p, SchedulerConfig& s) {
  s.warmup_num_steps = p.get_int("warmup_num_steps", s.warmup_num_steps);
  // DeepSpeed refuses 0 and below too (a warmup of 1 step is the shortest).
  require(s.warmup_num_steps > 0, p.key_path("warmup_num_steps"), "a positive integer",
          std::to_string(s.warmup_num_steps));
  s.warmup_type = p.get_string("warmup_type", s.warmup_type);
  if (s.warmup_type != "log" && s.warmup_type != "linear")
    fail(p.key_path("warmup_type") + " must be \"log\" or \"linear\", got \"" + s.warmup_type + "\"");
}

static void read_total_steps(Section& p, SchedulerConfig& s, std::vector<std::string>& warnings) {
  auto total = p.opt_int("total_num_steps");
  if (!total)
    fail(p.key_path("total_num_steps") + " is required by " + s.type +
         " (the number of optimizer steps the schedule spans)");
  require(*total > 0, p.key_path("total_num_steps"), "a positive integer", std::to_string(*total));
  s.total_num_steps = *total;
  if (s.total_num_steps < s.warmup_num_steps)
    warnings.push_back(p.key_path("total_num_steps") + " (" + std::to_string(s.total_num_steps) +
                       ") is smaller than warmup_num_steps (" + std::to_string(s.warmup_num_steps) +
                       "): the schedule never leaves warmup");
}

static void read_one_cycle(Section& p, SchedulerConfig& s) {
  auto min_lr = p.opt_double("cycle_min_lr"), max_lr = p.opt_double("cycle_max_lr");
  if (!min_lr || !max_lr)
    fail(p.path() + ": OneCycle requires cycle_min_lr and cycle_max_lr");
  s.cycle_min_lr = *min_lr;
  s.cycle_max_lr = *max_lr;
  require(s.cycle_min_lr >= 0, p.key_path("cycle_min_lr"), "at least 0", number_text(s.cycle_min_lr));
  require(s.cycle_max_lr >= s.cycle_min_lr, p.key_path("cycle_max_lr"), "at least cycle_min_lr",
          number_text(s.cycle_max_lr));
  s.decay_lr_rate = p.get_double("decay_lr_rate", s.decay_lr_rate);
  require(s.decay_lr_rate >= 0, p.key_path("decay_lr_rate"), "at least 0", number_text(s.decay_lr_rate));

  s.cycle_first_step_size = p.get_int("cycle_first_step_size", s.cycle_first_step_size);
  require(s.cycle_first_step_size > 0, p.key_path("cycle_first_step_size"), "a positive integer",
          std::to_string(s.cycle_first_step_size));
  s.cycle_second_step_size = p.get_int("cycle_second_step_size", s.cycle_second_step_size);
  require(s.cycle_second_step_size > 0 || s.cycle_second_step_size == -1, p.key_path("cycle_second_step_size"),
          "a positive integer (or absent: same as the first)", std::to_string(s.cycle_second_step_size));
  s.cycle_first_stair_count = p.get_int("cycle_first_stair_count", s.cycle_first_stair_count);
  require(s.cycle_first_stair_count >= 0, p.key_path("cycle_first_stair_count"), "at least 0",
          std::to_string(s.cycle_first_stair_count));
  s.cycle_second_stair_count = p.get_int("cycle_second_stair_count", s.cycle_second_stair_count);
  require(s.cycle_second_stair_count >= -1, p.key_path("cycle_second_stair_count"),
          "at least 0 (or absent: same as the first)", std::to_string(s.cycle_second_stair_count));
  s.decay_step_size = p.get_int("decay_step_size", s.decay_step_size);
  require(s.decay_step_size >= 0, p.key_path("decay_step_size"), "at least 0",
          std::to_string(s.decay_step_size));

  s.cycle_momentum = p.get_bool("cycle_momentum", s.cycle_momentum);
  s.cycle_min_mom = p.get_double("cycle_min_mom", s.cycle_min_mom);
  s.cycle_max_mom = p.get_double("cycle_max_mom", s.cycle_max_mom);
  require(s.cycle_min_mom >= 0 && s.cycle_min_mom < 1, p.key_path("cycle_min_mom"), "in [0, 1)",
          number_text(s.cycle_min_mom));
  require(s.cycle_max_mom >= s.cycle_min_mom && s.cycle_max_mom < 1, p.key_path("cycle_max_mom"),
          "in [cycle_min_mom, 1)", number_text(s.cycle_max_mom));
  s.decay_mom_rate = p.get_double("decay_mom_rate", s.decay_mom_rate);
  require(s.decay_mom_rate >= 0, p.key_path("decay_mom_rate"), "at least 0", number_text(s.decay_mom_rate));
}

void read_scheduler(Section& top, Config& cfg) {
  Section section = top.child("scheduler");
  if (!section.exists()) return;
  section.allow_only({"type", "params"});
  auto type = section.opt_string("type");
  if (!type)
    fail("scheduler.type is missing (supported: WarmupLR, WarmupDecayLR, WarmupCosineLR, OneCycle)");
  SchedulerConfig s;
  s.type = scheduler_type_name(section.key_path("type"), *type);

  Section p = section.child("params");
  p.allow_only(params_of(s.type), "for " + s.type);
  s.last_batch_iteration = p.get_int("last_batch_iteration", s.last_batch_iteration);
  require(s.last_batch_iteration >= -1, p.key_path("last_batch_iteration"), "-1 or a step index",
          std::to_string(s.last_batch_iteration));

  if (s.type == "WarmupLR" || s.type == "WarmupDecayLR") {
    s.warmup_min_lr = p.get_double("warmup_min_lr", s.warmup_min_lr);
    // Without warmup_max_lr, warmup ends at the optimizer's lr (DeepSpeed's default).
    s.warmup_max_lr = p.get_double("warmup_max_lr", cfg.optimizer.lr);
    require(s.warmup_min_lr >= 0, p.key_path("warmup_min_lr"), "at least 0", number_text(s.warmup_min_lr));
    require(s.warmup_max_lr >= 0, p.key_path("warmup_max_lr"), "at least 0", number_text(s.warmup_max_lr));
    read_warmup(p, s);
    if (s.type == "WarmupDecayLR") read_total_steps(p, s, cfg.warnings);
  } else if (s.type == "WarmupCosineLR") {
    s.warmup_min_ratio = p.get_double("warmup_min_ratio", s.warmup_min_ratio);
    s.cos_min_ratio = p.get_double("cos_min_ratio", s.cos_min_ratio);
    require(s.warmup_min_ratio >= 0 && s.warmup_min_ratio <= 1, p.key_path("warmup_min_ratio"),
            "between 0 and 1", number_text(s.warmup_min_ratio));
    require(s.cos_min_ratio >= 0 && s.cos_min_ratio <= 1, p.key_path("cos_min_ratio"), "between 0 and 1",
            number_text(s.cos_min_ratio));
    read_warmup(p, s);
    read_total_steps(p, s, cfg.warnings);
  } else {
    read_one_cycle(p, s);
  }
  cfg.scheduler = s;
}

}  // namespace zs::config_detail
