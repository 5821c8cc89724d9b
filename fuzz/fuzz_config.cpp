// libFuzzer target: the DeepSpeed config reader on arbitrary bytes. parse_config must either return
// a Config or throw ConfigError (a message for the user); any other exception, a crash, a hang, a
// leak or undefined behaviour is a finding. Each input is read at two world sizes, without and with
// the values a trainer offers for "auto" keys, so the batch rule and "auto" resolution run too.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "zs/config/config.hpp"

namespace {

zs::AutoValues trainer_autos() {
  zs::AutoValues autos;
  autos["train_micro_batch_size_per_gpu"] = {4, "--batch_size"};
  autos["gradient_accumulation_steps"] = {2, ""};
  autos["gradient_clipping"] = {1.0, ""};
  autos["optimizer.params.lr"] = {6e-4, "--learning_rate"};
  autos["optimizer.params.betas"] = {nlohmann::json::array({0.9, 0.95}), ""};
  autos["optimizer.params.weight_decay"] = {0.1, ""};
  autos["bf16.enabled"] = {false, ""};
  autos["fp16.enabled"] = {false, ""};
  autos["zero_optimization.stage"] = {2, "--zero_stage"};
  autos["scheduler.params.warmup_num_steps"] = {100, ""};
  autos["scheduler.params.total_num_steps"] = {1000, ""};
  autos["scheduler.params.warmup_max_lr"] = {6e-4, ""};
  return autos;
}

void parse(const std::string& text, int world_size, const zs::AutoValues& autos) {
  try {
    zs::Config config = zs::parse_config(text, world_size, autos, "fuzz.json");
    (void)config.raw.dump();  // the resolved document is written into checkpoints and logs
  } catch (const zs::ConfigError&) {
    // The expected outcome for a bad config.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parse_config threw something other than ConfigError: %s\n", e.what());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const zs::AutoValues autos = trainer_autos();
  const std::string text(reinterpret_cast<const char*>(data), size);
  parse(text, 1, {});
  parse(text, 3, autos);
  return 0;
}
