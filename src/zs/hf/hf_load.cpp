#include "zs/hf/hf_load.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include <ATen/ops/count_nonzero.h>
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>

#include "zs/base/clock.hpp"
#include "zs/base/strings.hpp"
#include "zs/ckpt/file_io.hpp"
#include "zs/ckpt/rank_agreement.hpp"
#include "zs/engine/engine.hpp"
#include "zs/hf/hf_plan.hpp"
#include "zs/hf/hf_weight_files.hpp"
#include "zs/monitor/memory.hpp"

namespace zs {

namespace {

// Elements read at a time into a master: bounds the host buffers (the file's values, and the
// fp32 piece handed to the master's store) whatever the tensor's size.
constexpr int64_t kPieceElements = int64_t(1) << 21;

// A plan entry and the file tensor that holds it.
struct Match {
  const HfTensor* entry;
  std::string tensor;   // name in the files
  std::string file;
  int64_t offset;       // in its file, for reading in order
};

// Pairs every parameter with its file tensor, checking names and shapes both ways before
// anything is read.
std::vector<Match> match(const HfPlan& plan, const HfWeightFiles& files) {
  auto resolve = [&](const std::string& name) -> std::string {
    if (files.contains(name)) return name;
    const std::string& prefix = plan.optional_prefix;
    if (!prefix.empty() && name.compare(0, prefix.size(), prefix) == 0 && files.contains(name.substr(prefix.size())))
      return name.substr(prefix.size());
    return "";
  };
  std::vector<Match> out;
  std::set<std::string> used;
  for (const HfTensor& e : plan.tensors) {
    const std::string tensor = resolve(e.name);
    if (!tensor.empty()) used.insert(tensor);
    if (e.tied_copy) continue;
    if (tensor.empty()) {
      if (e.zeros) continue;   // neither the model nor the files have it
      throw CheckpointError(files.dir() + " has no tensor " + e.name + " (the model's parameter " + e.param +
                            "; is the config.json the one these weights were saved with?)");
    }
    const TensorInfo& info = files.info(tensor);
    if (info.shape != e.shape)
      throw CheckpointError(files.dir() + ": " + tensor + " has shape " + shape_text(info.shape) + " in " +
                            files.file_of(tensor) + ", but the model's " + (e.zeros ? e.name : e.param) + " needs " +
                            shape_text(e.shape) + (e.transpose ? " (stored transposed)" : ""));
    out.push_back({&e, tensor, files.file_of(tensor), info.data_begin});
  }
  for (const auto& [tensor, file] : files.weight_map())
    if (!used.count(tensor) && !plan.ignored(tensor))
      throw CheckpointError(files.dir() + ": " + file + " holds " + tensor + ", which the " + plan.model_type +
                            " model built from config.json does not have" +
                            (tensor == "lm_head.weight" ? " (its head is tied to the embeddings: tie_word_embeddings)" : ""));
  std::sort(out.begin(), out.end(), [](const Match& a, const Match& b) {
    return a.file != b.file ? a.file < b.file : a.offset < b.offset;
  });
  return out;
}

// A parameter the model lacks may only be all zeros in the files (a bias-free GPT's exported biases).
void check_zeros(const SafetensorsReader& reader, const Match& m) {
  if (at::count_nonzero(reader.read(m.tensor)).item<int64_t>() != 0)
    throw CheckpointError(reader.path() + ": " + m.tensor +
                          " is not zero, but the model has no such parameter (build it with biases)");
}

// The file tensor's elements [begin, end) of the parameter's flattened order.
at::Tensor read_param_range(const SafetensorsReader& reader, const Match& m, int64_t begin, int64_t end) {
  if (!m.entry->transpose) return reader.read_elements(m.tensor, begin, end);
  // Stored transposed (GPT-2's Conv1D, at most a few tens of MB): read whole, then slice.
  return reader.read(m.tensor).t().contiguous().view(-1).slice(0, begin, end);
}

}  // namespace

HfLoadStats load_hf_weights(Engine& engine, const std::string& dir) {
  HfLoadStats stats;
  const double start = steady_seconds();
  run_on_all_ranks(engine.world(), [&] {
    const HfWeightFiles files(dir);
    const std::vector<ParamShard> shards = engine.param_shards();
    std::vector<ParamInfo> params;
    std::map<std::string, const ParamShard*> shard_of;
    for (const ParamShard& s : shards) {
      params.push_back({s.name, s.shape});
      shard_of[s.name] = &s;
    }
    // Frozen parameters are not the engine's: whole on every rank, loaded as they are.
    std::map<std::string, at::Tensor> frozen;
    for (const auto& item : engine.module().named_parameters(/*recurse=*/true))
      if (!item.value().requires_grad() && !shard_of.count(item.key()) && !frozen.count(item.key())) {
        params.push_back({item.key(), item.value().sizes().vec()});
        frozen[item.key()] = item.value();
      }
    const HfPlan plan = hf_plan(params);
    const std::vector<Match> matched = match(plan, files);
    c10::NoGradGuard no_grad;
    at::Tensor buffer;  // one piece in fp32
    std::string last_file;
    for (const Match& m : matched) {
      const SafetensorsReader& reader = files.reader(m.file);
      if (m.file != last_file) ++stats.files, last_file = m.file;
      ++stats.tensors;
      if (m.entry->zeros) {
        check_zeros(reader, m);
        continue;
      }
      if (frozen.count(m.entry->param)) {
        at::Tensor value = reader.read(m.tensor);
        frozen.at(m.entry->param).copy_(m.entry->transpose ? value.t() : value);
        continue;
      }
      const ParamShard& s = *shard_of.at(m.entry->param);
      if (s.begin >= s.end) continue;
      const int64_t element_bytes = safetensors_dtype_size(files.info(m.tensor).dtype);
      stats.bytes_read += (m.entry->transpose ? files.info(m.tensor).numel() : s.end - s.begin) * element_bytes;
      // Into the fp32 masters, wherever their store keeps them (device, host memory, files).
      if (m.entry->transpose) {
        s.write("master", 0, read_param_range(reader, m, s.begin, s.end).to(at::kFloat));
        continue;
      }
      for (int64_t lo = s.begin; lo < s.end; lo += kPieceElements) {
        const int64_t hi = std::min(s.end, lo + kPieceElements);
        if (!buffer.defined()) buffer = at::empty({kPieceElements}, at::TensorOptions().dtype(at::kFloat));
        const at::Tensor piece = buffer.narrow(0, 0, hi - lo);
        reader.read_elements_into(m.tensor, lo, hi, piece);
        s.write("master", lo - s.begin, piece);
      }
    }
  });
  engine.refresh_parameters();
  stats.seconds = steady_seconds() - start;
  stats.peak_rss_bytes = device_memory(c10::Device(c10::kCPU)).peak_allocated;
  return stats;
}

HfLoadStats load_hf_weights(torch::nn::Module& module, const std::string& dir) {
  HfLoadStats stats;
  const double start = steady_seconds();
  const HfWeightFiles files(dir);
  std::vector<ParamInfo> params;
  std::map<std::string, at::Tensor> tensor_of;
  std::unordered_set<const void*> seen;   // a tied parameter once, under its first name
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!seen.insert(item.value().unsafeGetTensorImpl()).second) continue;
    if (item.value().is_meta())
      throw CheckpointError("load_hf_weights: parameter " + item.key() + " is on the meta device; materialise the model first");
    params.push_back({item.key(), item.value().sizes().vec()});
    tensor_of[item.key()] = item.value();
  }
  const HfPlan plan = hf_plan(params);
  c10::NoGradGuard no_grad;
  std::string last_file;
  for (const Match& m : match(plan, files)) {
    const SafetensorsReader& reader = files.reader(m.file);
    if (m.file != last_file) ++stats.files, last_file = m.file;
    ++stats.tensors;
    const TensorInfo& info = files.info(m.tensor);
    stats.bytes_read += info.data_end - info.data_begin;
    if (m.entry->zeros) {
      check_zeros(reader, m);
      continue;
    }
    at::Tensor value = reader.read(m.tensor);
    if (m.entry->transpose) value = value.t();
    tensor_of.at(m.entry->param).copy_(value);
  }
  stats.seconds = steady_seconds() - start;
  stats.peak_rss_bytes = device_memory(c10::Device(c10::kCPU)).peak_allocated;
  return stats;
}

}  // namespace zs
