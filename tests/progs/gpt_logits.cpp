// Runs the ZeroShard GPT forward on one sequence of token ids and writes the logits of every
// position as JSON, so that another implementation (Hugging Face transformers, through
// bench/hf_interchange.py) can be compared with ours on the same weights.
//
//   gpt_logits --n_layer 2 --n_head 2 --n_embd 64 --block_size 32 --vocab_size 65 [--bias true]
//              [--weights consolidated.safetensors] --tokens "1,2,3" --out logits.json
//
// Without --weights the model keeps its seeded initialisation (--seed). Runs in fp32, eval mode,
// without autograd. Output: {"tokens": [...], "shape": [T, V], "logits": [[...], ...]}.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros_like.h>
#include <CLI/CLI.hpp>
#include <c10/core/GradMode.h>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "zs/ckpt/module_weights.hpp"
#include "zs/models/gpt/gpt.hpp"

namespace {

std::vector<int64_t> parse_tokens(const std::string& text) {
  std::vector<int64_t> tokens;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.find_first_not_of(" \t") == std::string::npos) continue;
    size_t used = 0;
    const long long value = std::stoll(item, &used);
    if (item.find_first_not_of(" \t", used) != std::string::npos)
      throw std::invalid_argument("--tokens: '" + item + "' is not an integer");
    tokens.push_back(value);
  }
  if (tokens.empty()) throw std::invalid_argument("--tokens: no token ids given");
  return tokens;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"write the ZeroShard GPT's logits for one token sequence"};
  zs::GPTConfig gpt;
  std::string weights, tokens_text, out_path;
  int64_t seed = 1234;
  app.add_option("--n_layer", gpt.n_layer)->required();
  app.add_option("--n_head", gpt.n_head)->required();
  app.add_option("--n_embd", gpt.n_embd)->required();
  app.add_option("--block_size", gpt.block_size)->required();
  app.add_option("--vocab_size", gpt.vocab_size)->required();
  app.add_option("--bias", gpt.bias, "biases in Linear and LayerNorm layers (must match the weights)");
  app.add_option("--weights", weights, "consolidated safetensors file (zs_ckpt consolidate)");
  app.add_option("--seed", seed, "initialisation seed when no --weights are given");
  app.add_option("--tokens", tokens_text, "comma-separated token ids, one sequence")->required();
  app.add_option("--out", out_path, "JSON file to write")->required();
  CLI11_PARSE(app, argc, argv);

  try {
    std::vector<int64_t> tokens = parse_tokens(tokens_text);
    for (int64_t t : tokens)
      if (t < 0 || t >= gpt.vocab_size)
        throw std::invalid_argument("--tokens: id " + std::to_string(t) + " is outside the vocabulary [0, " +
                                    std::to_string(gpt.vocab_size) + ")");
    gpt.dropout = 0.0;
    torch::manual_seed(seed);
    zs::GPT model(gpt);
    if (!weights.empty()) zs::load_module_weights(*model, weights);
    model->eval();
    c10::NoGradGuard no_grad;

    const int64_t T = static_cast<int64_t>(tokens.size());
    const at::Tensor idx = at::from_blob(tokens.data(), {1, T}, at::kLong).clone();
    // Targets make forward() return every position's logits; their loss is not used.
    const at::Tensor logits = model->forward(idx, at::zeros_like(idx)).logits.select(0, 0).to(at::kFloat).contiguous();

    const int64_t V = logits.size(1);
    nlohmann::json result;
    result["tokens"] = tokens;
    result["shape"] = {T, V};
    const float* data = logits.data_ptr<float>();
    for (int64_t t = 0; t < T; ++t) result["logits"].push_back(std::vector<float>(data + t * V, data + (t + 1) * V));
    std::ofstream out(out_path);
    if (!out) throw std::runtime_error("cannot write " + out_path);
    out << result.dump();
  } catch (const std::exception& e) {
    std::cerr << "gpt_logits: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
