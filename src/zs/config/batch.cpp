// The batch triple: train_batch_size = train_micro_batch_size_per_gpu * gradient_accumulation_steps
// * world_size. Any two given derive the third; one of the batch sizes alone means accumulation 1.
// A key of the triple that is "auto" without a value from the program is derived the same way
// (as Hugging Face's Trainer computes train_batch_size), when the others say enough.
#include "zs/config/sections.hpp"

namespace zs::config_detail {

static std::optional<int64_t> read_batch_number(Section& top, const std::string& key) {
  auto v = top.opt_int(key);
  // The cap keeps micro * accumulation * world far from int64 overflow.
  if (v) require(*v > 0 && *v <= 1000000000, key, "a positive integer (at most 10^9)", std::to_string(*v));
  return v;
}

static std::string n(int64_t v) { return std::to_string(v); }

// micro * accumulation * world, refused past 10^12 samples per step (where the product could overflow
// later arithmetic, and no run goes).
static int64_t batch_product(int64_t micro, int64_t accum, int64_t world) {
  if (double(micro) * double(accum) * double(world) > 1e12)
    fail("train_micro_batch_size_per_gpu " + n(micro) + " * gradient_accumulation_steps " + n(accum) + " * world_size " +
         n(world) + " is more than 10^12 samples per optimizer step; lower them");
  return micro * accum * world;
}

void read_batch(Section& top, int world_size, Config& cfg) {
  if (world_size < 1) fail("world size must be at least 1, got " + n(world_size));
  // "auto" with no value from the program reads as absent here: the rule derives it.
  const bool derive_train = top.is_unresolved_auto("train_batch_size");
  const bool derive_micro = top.is_unresolved_auto("train_micro_batch_size_per_gpu");
  const bool derive_accum = top.is_unresolved_auto("gradient_accumulation_steps");
  auto train = read_batch_number(top, "train_batch_size");
  auto micro = read_batch_number(top, "train_micro_batch_size_per_gpu");
  auto accum = read_batch_number(top, "gradient_accumulation_steps");
  const int64_t world = world_size;
  const std::string ws = "world_size " + n(world);

  if (!train && !micro)
    fail("the batch size is not set: set train_micro_batch_size_per_gpu (samples per rank per step) "
         "and/or train_batch_size (samples per optimizer step over all ranks)");

  if (train && micro && accum) {
    if (*train != batch_product(*micro, *accum, world))
      fail("train_batch_size " + n(*train) + " does not equal train_micro_batch_size_per_gpu " + n(*micro) +
           " * gradient_accumulation_steps " + n(*accum) + " * " + ws + " = " + n(*micro * *accum * world));
  } else if (train && micro) {
    if (*train % (*micro * world) != 0)
      fail("train_batch_size " + n(*train) + " is not divisible by train_micro_batch_size_per_gpu " +
           n(*micro) + " * " + ws + " = " + n(*micro * world) +
           ", so gradient_accumulation_steps cannot be derived");
    accum = *train / (*micro * world);
  } else if (train && accum) {
    if (*train % (*accum * world) != 0)
      fail("train_batch_size " + n(*train) + " is not divisible by gradient_accumulation_steps " + n(*accum) +
           " * " + ws + " = " + n(*accum * world) + ", so train_micro_batch_size_per_gpu cannot be derived");
    micro = *train / (*accum * world);
  } else if (micro && accum) {
    train = batch_product(*micro, *accum, world);
  } else if (train) {
    if (*train % world != 0)
      fail("train_batch_size " + n(*train) + " is not divisible by " + ws +
           ", so train_micro_batch_size_per_gpu cannot be derived (gradient_accumulation_steps 1)");
    accum = 1;
    micro = *train / world;
  } else {
    accum = 1;
    train = batch_product(*micro, 1, world);
  }
  cfg.train_batch_size = *train;
  cfg.train_micro_batch_size_per_gpu = *micro;
  cfg.gradient_accumulation_steps = *accum;
  const std::string rule = "batch rule: " + n(*train) + " = micro " + n(*micro) + " x accumulation " + n(*accum) +
                           " x " + n(world) + " rank(s)";
  if (derive_train) top.record_auto("train_batch_size", *train, rule);
  if (derive_micro) top.record_auto("train_micro_batch_size_per_gpu", *micro, rule);
  if (derive_accum) top.record_auto("gradient_accumulation_steps", *accum, rule);
}

}  // namespace zs::config_detail
