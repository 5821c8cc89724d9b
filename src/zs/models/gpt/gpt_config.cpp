#include "zs/models/gpt/gpt_config.hpp"

#include <stdexcept>

#include "zs/base/strings.hpp"

namespace zs {
namespace {
GPTConfig make_preset(int64_t n_layer, int64_t n_head, int64_t n_embd) {
  GPTConfig c;
  c.n_layer = n_layer;
  c.n_head = n_head;
  c.n_embd = n_embd;
  return c;
}
}  // namespace

GPTConfig GPTConfig::gpt2_124m() { return make_preset(12, 12, 768); }
GPTConfig GPTConfig::gpt2_350m() { return make_preset(24, 16, 1024); }
GPTConfig GPTConfig::gpt2_774m() { return make_preset(36, 20, 1280); }
GPTConfig GPTConfig::gpt2_1_5b() { return make_preset(48, 25, 1600); }

GPTConfig GPTConfig::preset(const std::string& given) {
  const std::string name = ascii_lowercase(given);  // "124M" and "124m" alike
  if (name == "gpt2" || name == "124m" || name == "gpt2-124m") return gpt2_124m();
  if (name == "gpt2-medium" || name == "350m" || name == "gpt2-350m") return gpt2_350m();
  if (name == "gpt2-large" || name == "774m" || name == "gpt2-774m") return gpt2_774m();
  if (name == "gpt2-xl" || name == "1.5b" || name == "gpt2-1.5b") return gpt2_1_5b();
  throw std::invalid_argument("unknown GPT preset '" + given +
                              "' (known: gpt2, gpt2-medium, gpt2-large, gpt2-xl, or 124m/350m/774m/1.5b)");
}

void GPTConfig::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("GPTConfig: " + what); };
  if (block_size <= 0) fail("block_size must be positive, got " + std::to_string(block_size));
  if (vocab_size <= 0) fail("vocab_size must be positive, got " + std::to_string(vocab_size));
  if (n_layer <= 0) fail("n_layer must be positive, got " + std::to_string(n_layer));
  if (n_head <= 0) fail("n_head must be positive, got " + std::to_string(n_head));
  if (n_embd <= 0 || n_embd % n_head != 0)
    fail("n_embd (" + std::to_string(n_embd) + ") must be a positive multiple of n_head (" +
         std::to_string(n_head) + ")");
  if (activation != "gelu" && activation != "gelu_tanh")
    fail("activation must be \"gelu\" or \"gelu_tanh\", got \"" + activation + "\"");
  if (dropout < 0.0 || dropout >= 1.0) fail("dropout must be in [0, 1), got " + std::to_string(dropout));
}

}  // namespace zs
