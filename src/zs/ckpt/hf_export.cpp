#include "zs/ckpt/hf_export.hpp"

#include <set>

namespace zs {

namespace {

bool is_conv1d_weight(const std::string& suffix) {
  return suffix == "attn.c_attn.weight" || suffix == "attn.c_proj.weight" || suffix == "mlp.c_fc.weight" ||
         suffix == "mlp.c_proj.weight";
}

}  // namespace

std::vector<ExportTensor> gpt2_hf_plan(const CheckpointIndex& index) {
  const std::string where = "checkpoint " + index.tag;
  auto param = [&](const std::string& name) -> const ParamRecord& {
    const ParamRecord* p = index.find_param(name);
    if (!p) throw CheckpointError(where + " is not a GPT-2 model: it has no parameter " + name);
    return *p;
  };
  const ParamRecord& wte = param("transformer.wte.weight");
  const ParamRecord& wpe = param("transformer.wpe.weight");
  if (wte.shape.size() != 2 || wpe.shape.size() != 2) throw CheckpointError(where + ": embeddings are not matrices");
  const int64_t n_embd = wte.shape[1];
  int n_layer = 0;
  while (index.find_param("transformer.h." + std::to_string(n_layer) + ".ln_1.weight")) ++n_layer;

  std::vector<ExportTensor> plan;
  std::set<std::string> used;
  auto take = [&](const std::string& name) {
    const ParamRecord& p = param(name);
    used.insert(name);
    plan.push_back({name, p.shape, ExportTensor::Source::parameter, name});
  };
  // A weight, then its bias (zeros of `bias_size` when the model has none).
  auto linear_or_norm = [&](const std::string& prefix, const std::string& suffix, int64_t bias_size) {
    const std::string weight = prefix + suffix + ".weight";
    if (is_conv1d_weight(suffix + ".weight")) {
      const ParamRecord& p = param(weight);
      if (p.shape.size() != 2) throw CheckpointError(where + ": " + weight + " is not a matrix");
      used.insert(weight);
      plan.push_back({weight, {p.shape[1], p.shape[0]}, ExportTensor::Source::parameter, weight, /*transpose=*/true});
    } else {
      take(weight);
    }
    const std::string bias = prefix + suffix + ".bias";
    if (index.find_param(bias)) {
      take(bias);
    } else {
      plan.push_back({bias, {bias_size}, ExportTensor::Source::zeros, ""});
    }
  };

  take("transformer.wte.weight");
  take("transformer.wpe.weight");
  for (int n = 0; n < n_layer; ++n) {
    const std::string prefix = "transformer.h." + std::to_string(n) + ".";
    linear_or_norm(prefix, "ln_1", n_embd);
    linear_or_norm(prefix, "attn.c_attn", 3 * n_embd);
    linear_or_norm(prefix, "attn.c_proj", n_embd);
    linear_or_norm(prefix, "ln_2", n_embd);
    linear_or_norm(prefix, "mlp.c_fc", param(prefix + "mlp.c_fc.weight").shape[0]);
    linear_or_norm(prefix, "mlp.c_proj", n_embd);
  }
  linear_or_norm("transformer.", "ln_f", n_embd);
  plan.push_back({"lm_head.weight", wte.shape, ExportTensor::Source::parameter, "transformer.wte.weight"});
  for (const ParamRecord& p : index.params)
    if (!used.count(p.name)) throw CheckpointError(where + ": parameter " + p.name + " has no GPT-2 counterpart");
  return plan;
}

ExportResult export_hf_gpt2(const std::string& dir, const std::string& out_path, at::ScalarType dtype,
                            const std::string& tag) {
  const CheckpointIndex index = read_checkpoint_index(dir, resolve_tag(dir, tag));
  return write_export(dir, index.tag, gpt2_hf_plan(index), out_path, dtype);
}

}  // namespace zs
