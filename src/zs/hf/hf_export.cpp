#include "zs/hf/hf_export.hpp"

#include <map>
#include <unordered_set>

#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include "zs/base/strings.hpp"
#include "zs/ckpt/checkpoint_files.hpp"
#include "zs/ckpt/rank_agreement.hpp"
#include "zs/engine/engine.hpp"
#include "zs/hf/hf_config.hpp"
#include "zs/hf/hf_plan.hpp"
#include "zs/models/gpt/gpt.hpp"
#include "zs/models/llama/llama.hpp"

namespace zs {

namespace {

// The module's parameters (trainable and frozen), each tensor once, in registration order.
std::vector<std::pair<std::string, at::Tensor>> unique_parameters(const torch::nn::Module& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  std::unordered_set<const void*> seen;
  for (const auto& item : model.named_parameters(/*recurse=*/true))
    if (seen.insert(item.value().unsafeGetTensorImpl()).second) out.emplace_back(item.key(), item.value());
  return out;
}

HfPlan plan_of(const std::vector<std::pair<std::string, at::Tensor>>& params) {
  std::vector<ParamInfo> infos;
  for (const auto& [name, t] : params) infos.push_back({name, t.sizes().vec()});
  return hf_plan(infos);
}

std::vector<TensorInfo> declarations(const HfPlan& plan) {
  std::vector<TensorInfo> out;
  for (const HfTensor& t : plan.tensors) out.push_back({t.name, "", t.shape});
  return out;
}

// Writes the file tensors that hold parameter `name` (its copies and transposes included).
void write_param(HfDirectoryWriter& writer, const std::multimap<std::string, const HfTensor*>& by_param,
                 const std::string& name, const at::Tensor& value) {
  auto [lo, hi] = by_param.equal_range(name);
  for (auto it = lo; it != hi; ++it) writer.write(it->second->name, it->second->transpose ? value.t() : value);
}

std::multimap<std::string, const HfTensor*> by_param(const HfPlan& plan) {
  std::multimap<std::string, const HfTensor*> out;
  for (const HfTensor& t : plan.tensors)
    if (!t.zeros) out.emplace(t.param, &t);
  return out;
}

void write_zeros(HfDirectoryWriter& writer, const HfPlan& plan) {
  for (const HfTensor& t : plan.tensors)
    if (t.zeros) writer.write(t.name, at::zeros(t.shape, at::TensorOptions().dtype(at::kFloat)));
}

nlohmann::json generation_config_if(const HfExportOptions& options, const nlohmann::json& config) {
  return options.generation_config ? hf_generation_config(config) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json hf_config_of(const torch::nn::Module& model, at::ScalarType dtype) {
  if (const auto* llama = dynamic_cast<const LlamaImpl*>(&model)) return llama_config_to_hf(llama->config(), dtype);
  if (const auto* gpt = dynamic_cast<const GPTImpl*>(&model)) return gpt_config_to_hf(gpt->config(), dtype);
  throw CheckpointError("no Hugging Face config for this module: only zs::Llama and zs::GPT export one");
}

HfDirectoryResult save_hf_pretrained(torch::nn::Module& model, const std::string& dir, const HfExportOptions& options) {
  const nlohmann::json config = hf_config_of(model, options.dtype);
  const auto params = unique_parameters(model);
  const HfPlan plan = plan_of(params);
  const auto param_entries = by_param(plan);
  c10::NoGradGuard no_grad;
  HfDirectoryWriter writer(dir, declarations(plan), options.dtype, options.max_shard_bytes);
  write_zeros(writer, plan);
  for (const auto& [name, value] : params) write_param(writer, param_entries, name, value);
  return writer.finish(config, generation_config_if(options, config));
}

HfDirectoryResult save_hf_pretrained(Engine& engine, const std::string& dir, const HfExportOptions& options) {
  const bool writes = engine.world().is_main();
  HfDirectoryResult result;
  std::string error;
  // Rank 0's failures are kept until every rank has finished the (collective) visit.
  auto guarded = [&](const std::function<void()>& body) {
    if (!error.empty()) return;
    try {
      body();
    } catch (const std::exception& e) {
      error = e.what();
    }
  };
  std::unique_ptr<HfDirectoryWriter> writer;
  nlohmann::json config;
  HfPlan plan;
  std::multimap<std::string, const HfTensor*> param_entries;
  std::vector<std::pair<std::string, at::Tensor>> frozen;
  guarded([&] {
    config = hf_config_of(engine.module(), options.dtype);
    const auto params = unique_parameters(engine.module());
    plan = plan_of(params);
    param_entries = by_param(plan);
    for (const auto& [name, t] : params)
      if (!t.requires_grad()) frozen.emplace_back(name, t);
    if (writes) {
      writer = std::make_unique<HfDirectoryWriter>(dir, declarations(plan), options.dtype, options.max_shard_bytes);
      write_zeros(*writer, plan);
    }
  });
  engine.visit_full_parameters([&](const std::string& name, const at::Tensor& value) {
    if (writes && writer) guarded([&] { write_param(*writer, param_entries, name, value); });
  });
  if (writes && writer)
    guarded([&] {
      c10::NoGradGuard no_grad;
      for (const auto& [name, value] : frozen) write_param(*writer, param_entries, name, value);
      result = writer->finish(config, generation_config_if(options, config));
    });
  run_on_all_ranks(engine.world(), [&] {
    if (!error.empty()) throw CheckpointError("Hugging Face export to " + dir + ": " + error);
  });
  return result;
}

HfDirectoryResult export_hf_checkpoint(const std::string& ckpt_dir, const std::string& tag, const std::string& out_dir,
                                       nlohmann::json config, const HfExportOptions& options) {
  const CheckpointIndex index = read_checkpoint_index(ckpt_dir, resolve_tag(ckpt_dir, tag));
  if (!index.module_tensors.empty())
    throw CheckpointError("checkpoint " + index.tag + " has module buffers (" + index.module_tensors.front() +
                          ", ...), which a Hugging Face directory has no place for");
  std::vector<ParamInfo> params;
  for (const ParamRecord& p : index.params) params.push_back({p.name, p.shape});
  const HfPlan plan = hf_plan(params);
  CheckpointFiles files(ckpt_dir, index.tag, index);
  config["torch_dtype"] = config["dtype"] = hf_dtype_name(options.dtype);
  HfDirectoryWriter writer(out_dir, declarations(plan), options.dtype, options.max_shard_bytes);
  for (const HfTensor& t : plan.tensors) {   // in declaration order: one tensor in memory at a time
    if (t.zeros) {
      writer.write(t.name, at::zeros(t.shape, at::TensorOptions().dtype(at::kFloat)));
      continue;
    }
    const at::Tensor full = files.read_full(*index.find_param(t.param), "master");
    writer.write(t.name, t.transpose ? full.t() : full);
  }
  return writer.finish(config, generation_config_if(options, config));
}

namespace {

// The checkpoint's parameters against a model built from `config` (on the meta device: no memory).
void check_config_matches(const CheckpointIndex& index, const nlohmann::json& config, const std::string& where) {
  if (hf_model_type(config, where) != "llama") return;   // a GPT's config is made from the shapes
  const Llama model(llama_config_from_hf(config, where), c10::Device(c10::kMeta));
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto& item : model->named_parameters(true)) expected[item.key()] = item.value().sizes().vec();
  for (const ParamRecord& p : index.params) {
    auto it = expected.find(p.name);
    if (it == expected.end())
      throw CheckpointError(where + " describes no parameter " + p.name + ", which checkpoint " + index.tag + " has");
    if (it->second != p.shape)
      throw CheckpointError(where + " gives " + p.name + " the shape " + shape_text(it->second) + ", checkpoint " +
                            index.tag + " has " + shape_text(p.shape));
    expected.erase(it);
  }
  if (!expected.empty())
    throw CheckpointError(where + " describes parameter " + expected.begin()->first + ", which checkpoint " + index.tag +
                          " does not have");
}

}  // namespace

nlohmann::json hf_config_for_checkpoint(const std::string& ckpt_dir, const std::string& tag,
                                        const std::string& config_path, int64_t n_head) {
  const CheckpointIndex index = read_checkpoint_index(ckpt_dir, resolve_tag(ckpt_dir, tag));
  nlohmann::json config;
  std::string where;
  if (!config_path.empty()) {
    try {
      config = nlohmann::json::parse(read_text_file(config_path));
    } catch (const nlohmann::json::parse_error& e) {
      throw CheckpointError(config_path + " is not valid JSON: " + e.what());
    }
    where = config_path;
  } else if (index.client_state.is_object() && index.client_state.contains("model") &&
             index.client_state["model"].is_object() && index.client_state["model"].contains("model_type")) {
    config = index.client_state["model"];   // the trainers save the model's config.json there
    where = "the model config of checkpoint " + index.tag;
  } else if (index.find_param("transformer.wte.weight")) {
    // train_gpt saves nanoGPT's model args; n_head is the one the shapes do not tell.
    const nlohmann::json& args = index.client_state.is_object() ? index.client_state.value("model", nlohmann::json()) : nlohmann::json();
    if (n_head <= 0 && args.is_object() && args.contains("n_head") && args["n_head"].is_number_integer()) n_head = args["n_head"];
    if (n_head <= 0)
      throw CheckpointError("checkpoint " + index.tag + " holds a GPT without its config: pass its number of heads (--n_head)");
    GPTConfig c;
    const ParamRecord& wte = *index.find_param("transformer.wte.weight");
    const ParamRecord* wpe = index.find_param("transformer.wpe.weight");
    if (wte.shape.size() != 2 || !wpe || wpe->shape.size() != 2) throw CheckpointError("checkpoint " + index.tag + ": malformed GPT embeddings");
    c.vocab_size = wte.shape[0];
    c.n_embd = wte.shape[1];
    c.block_size = wpe->shape[0];
    c.n_layer = 0;
    while (index.find_param("transformer.h." + std::to_string(c.n_layer) + ".ln_1.weight")) ++c.n_layer;
    c.n_head = n_head;
    c.bias = index.find_param("transformer.ln_f.bias") != nullptr;
    c.dropout = 0.0;
    try {
      c.validate();
    } catch (const std::invalid_argument& e) {
      throw CheckpointError(std::string("--n_head: ") + e.what());
    }
    return gpt_config_to_hf(c, at::kFloat);
  } else {
    throw CheckpointError("checkpoint " + index.tag +
                          " does not say how its model was configured: pass the config.json it was built from (--config)");
  }
  check_config_matches(index, config, where);
  return config;
}

ExportResult export_hf_weights_file(const std::string& ckpt_dir, const std::string& tag, const std::string& out_path,
                                    at::ScalarType dtype) {
  const CheckpointIndex index = read_checkpoint_index(ckpt_dir, resolve_tag(ckpt_dir, tag));
  std::vector<ParamInfo> params;
  for (const ParamRecord& p : index.params) params.push_back({p.name, p.shape});
  std::vector<ExportTensor> plan;
  for (const HfTensor& t : hf_plan(params).tensors)
    plan.push_back({t.name, t.shape, t.zeros ? ExportTensor::Source::zeros : ExportTensor::Source::parameter, t.param,
                    t.transpose});
  return write_export(ckpt_dir, index.tag, plan, out_path, dtype);
}

}  // namespace zs
