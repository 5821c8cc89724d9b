#include "zs/hf/hf_plan.hpp"

#include <map>
#include <set>

#include "zs/base/strings.hpp"
#include "zs/ckpt/file_io.hpp"

namespace zs {

namespace {

HfPlan llama_plan(const std::vector<ParamInfo>& params) {
  HfPlan plan;
  plan.model_type = "llama";
  for (const ParamInfo& p : params) plan.tensors.push_back({p.name, p.shape, p.name, false, false, false});
  // Rotary frequencies some older exports saved as buffers. (A tied model has no lm_head.weight:
  // a file that holds one has a head of its own, which a tied model cannot take.)
  plan.ignored_suffixes = {"rotary_emb.inv_freq"};
  return plan;
}

bool is_conv1d_weight(const std::string& suffix) {
  return suffix == "attn.c_attn.weight" || suffix == "attn.c_proj.weight" || suffix == "mlp.c_fc.weight" ||
         suffix == "mlp.c_proj.weight";
}

HfPlan gpt2_plan(const std::vector<ParamInfo>& params) {
  std::map<std::string, const ParamInfo*> by_name;
  for (const ParamInfo& p : params) by_name[p.name] = &p;
  auto param = [&](const std::string& name) -> const ParamInfo& {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw CheckpointError("not a GPT-2 model: it has no parameter " + name);
    return *it->second;
  };
  const ParamInfo& wte = param("transformer.wte.weight");
  if (wte.shape.size() != 2) throw CheckpointError("transformer.wte.weight is not a matrix");
  const int64_t n_embd = wte.shape[1];
  int n_layer = 0;
  while (by_name.count("transformer.h." + std::to_string(n_layer) + ".ln_1.weight")) ++n_layer;

  HfPlan plan;
  plan.model_type = "gpt2";
  plan.optional_prefix = "transformer.";
  // Causal-mask buffers older transformers saved.
  plan.ignored_suffixes = {".attn.bias", ".attn.masked_bias"};
  std::set<std::string> used;
  auto take = [&](const std::string& name) {
    plan.tensors.push_back({name, param(name).shape, name, false, false, false});
    used.insert(name);
  };
  // A weight, then its bias (zeros when the model has none).
  auto with_bias = [&](const std::string& prefix, const std::string& suffix, int64_t bias_size) {
    const std::string weight = prefix + suffix + ".weight";
    if (is_conv1d_weight(suffix + ".weight")) {
      const ParamInfo& p = param(weight);
      if (p.shape.size() != 2) throw CheckpointError(weight + " is not a matrix");
      plan.tensors.push_back({weight, {p.shape[1], p.shape[0]}, weight, /*transpose=*/true, false, false});
      used.insert(weight);
    } else {
      take(weight);
    }
    const std::string bias = prefix + suffix + ".bias";
    if (by_name.count(bias)) {
      take(bias);
    } else {
      plan.tensors.push_back({bias, {bias_size}, /*param=*/"", /*transpose=*/false, /*zeros=*/true});
    }
  };
  take("transformer.wte.weight");
  take("transformer.wpe.weight");
  for (int n = 0; n < n_layer; ++n) {
    const std::string prefix = "transformer.h." + std::to_string(n) + ".";
    with_bias(prefix, "ln_1", n_embd);
    with_bias(prefix, "attn.c_attn", 3 * n_embd);
    with_bias(prefix, "attn.c_proj", n_embd);
    with_bias(prefix, "ln_2", n_embd);
    with_bias(prefix, "mlp.c_fc", param(prefix + "mlp.c_fc.weight").shape[0]);
    with_bias(prefix, "mlp.c_proj", n_embd);
  }
  with_bias("transformer.", "ln_f", n_embd);
  plan.tensors.push_back({"lm_head.weight", wte.shape, "transformer.wte.weight", false, false, /*tied_copy=*/true});
  for (const ParamInfo& p : params)
    if (!used.count(p.name)) throw CheckpointError("parameter " + p.name + " has no GPT-2 counterpart");
  return plan;
}

}  // namespace

bool HfPlan::ignored(const std::string& file_tensor) const {
  for (const std::string& suffix : ignored_suffixes)
    if (ends_with(file_tensor, suffix)) return true;
  return false;
}

HfPlan hf_plan(const std::vector<ParamInfo>& params) {
  for (const ParamInfo& p : params) {
    if (p.name == "model.embed_tokens.weight") return llama_plan(params);
    if (p.name == "transformer.wte.weight") return gpt2_plan(params);
  }
  throw CheckpointError(
      "the model is neither a Llama (model.embed_tokens.weight) nor a GPT-2 (transformer.wte.weight): no Hugging Face layout for it");
}

}  // namespace zs
