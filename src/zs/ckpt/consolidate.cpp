#include "zs/ckpt/consolidate.hpp"

#include <algorithm>

#include <ATen/ops/zeros.h>

#include "zs/ckpt/checkpoint_files.hpp"

namespace zs {

namespace {

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace

std::vector<ExportTensor> identity_plan(const CheckpointIndex& index) {
  std::vector<ExportTensor> plan;
  for (const ParamRecord& p : index.params) plan.push_back({p.name, p.shape, ExportTensor::Source::parameter, p.name});
  for (const std::string& name : index.module_tensors)
    plan.push_back({name, {}, ExportTensor::Source::module_tensor, name});   // shape from the file
  return plan;
}

ExportResult write_export(const std::string& dir, const std::string& tag_or_latest, const std::vector<ExportTensor>& plan,
                          const std::string& out_path, at::ScalarType dtype, SafetensorsMetadata metadata) {
  const std::string tag = resolve_tag(dir, tag_or_latest);
  const CheckpointIndex index = read_checkpoint_index(dir, tag);
  CheckpointFiles files(dir, tag, index);
  const std::string rank0 = shard_file_name(0, index.world_size);

  // Declarations first (the header holds every offset): names, shapes, dtypes.
  std::vector<TensorInfo> declarations;
  for (const ExportTensor& t : plan) {
    TensorInfo info{t.name, safetensors_dtype(dtype), t.shape};
    if (t.source == ExportTensor::Source::parameter) {
      const ParamRecord* p = index.find_param(t.from);
      if (!p) throw CheckpointError(files.where() + " has no parameter " + t.from);
      if (numel_of(p->shape) != numel_of(t.shape))
        throw CheckpointError("export: " + t.name + " and parameter " + t.from + " differ in size");
    } else if (t.source == ExportTensor::Source::module_tensor) {
      const TensorInfo& saved = files.open(rank0).info("__module__." + t.from);
      info.shape = saved.shape;
      if (!at::isFloatingType(scalar_type_from_safetensors(saved.dtype))) info.dtype = saved.dtype;
    }
    declarations.push_back(std::move(info));
  }
  metadata.emplace("format", "pt");
  SafetensorsWriter writer(out_path, declarations, metadata);
  ExportResult result;
  for (size_t i = 0; i < plan.size(); ++i) {
    const ExportTensor& t = plan[i];
    at::Tensor full;
    if (t.source == ExportTensor::Source::parameter) {
      full = files.read_full(*index.find_param(t.from), "master");
      if (t.transpose) full = full.t().contiguous();
    } else if (t.source == ExportTensor::Source::module_tensor) {
      full = files.open(rank0).read("__module__." + t.from);
    } else {
      full = at::zeros(t.shape, at::TensorOptions().dtype(at::kFloat));
    }
    full = full.reshape(declarations[i].shape).to(scalar_type_from_safetensors(declarations[i].dtype));
    writer.write(t.name, full);
    result.largest_tensor_bytes = std::max<int64_t>(result.largest_tensor_bytes, full.nbytes());
    ++result.tensors;
  }
  result.bytes = writer.finish().bytes;
  return result;
}

ExportResult consolidate_checkpoint(const std::string& dir, const std::string& out_path, at::ScalarType dtype,
                                    const std::string& tag) {
  const CheckpointIndex index = read_checkpoint_index(dir, resolve_tag(dir, tag));
  return write_export(dir, index.tag, identity_plan(index), out_path, dtype,
                      {{"zeroshard.source", join_path(dir, index.tag)},
                       {"zeroshard.global_steps", std::to_string(index.counters.global_steps)}});
}

}  // namespace zs
