#include "zs/ckpt/shard_file.hpp"

#include <algorithm>

#include "zs/ckpt/safetensors.hpp"

namespace zs {

FileSummary write_shard_file(const std::string& path, const ShardFilePlan& plan, const SliceTensorFn& tensor_of) {
  // The header needs every tensor up front; the slices' tensors are made later, one at a time.
  std::vector<TensorInfo> declarations;
  nlohmann::json slices = nlohmann::json::object();
  for (const ShardSlice& s : plan.slices) {
    if (s.begin >= s.end || slices.contains(s.param))
      throw CheckpointError(path + ": slice of " + s.param + " is empty or given twice");
    slices[s.param] = {s.begin, s.end};
    declarations.push_back({s.param + ".master", "F32", {s.end - s.begin}});
    for (const std::string& key : plan.state_keys) declarations.push_back({s.param + "." + key, "F32", {s.end - s.begin}});
  }
  for (const auto& [name, t] : plan.extra_tensors)
    declarations.push_back({name, safetensors_dtype(t.scalar_type()), t.sizes().vec()});

  const SafetensorsMetadata metadata{{"format", "pt"},
                                     {"zeroshard.rank", std::to_string(plan.rank)},
                                     {"zeroshard.world_size", std::to_string(plan.world_size)},
                                     {"zeroshard.slices", slices.dump()},
                                     {"zeroshard.state_keys", nlohmann::json(plan.state_keys).dump()}};
  SafetensorsWriter writer(path, declarations, metadata);
  for (const ShardSlice& s : plan.slices) {
    writer.write(s.param + ".master", tensor_of(s, "master"));
    for (const std::string& key : plan.state_keys) writer.write(s.param + "." + key, tensor_of(s, key));
  }
  for (const auto& [name, t] : plan.extra_tensors) writer.write(name, t);
  return writer.finish();
}

void add_shard_files_to_index(CheckpointIndex& index, const std::string& tag_dir,
                              const std::vector<FileSummary>& summaries) {
  for (int r = 0; r < index.world_size; ++r) {
    const std::string file = shard_file_name(r, index.world_size);
    index.files.push_back({file, r, summaries.at(r).bytes, summaries.at(r).crc32});
    SafetensorsReader header(join_path(tag_dir, file));   // the header only
    const auto slices = nlohmann::json::parse(header.metadata().at("zeroshard.slices"));
    for (ParamRecord& p : index.params)
      if (slices.contains(p.name)) p.slices.push_back({file, slices[p.name][0].get<int64_t>(), slices[p.name][1].get<int64_t>()});
    for (const auto& key : nlohmann::json::parse(header.metadata().at("zeroshard.state_keys")))
      if (std::find(index.optimizer_state_keys.begin(), index.optimizer_state_keys.end(), key) == index.optimizer_state_keys.end())
        index.optimizer_state_keys.push_back(key.get<std::string>());
  }
  for (ParamRecord& p : index.params)
    std::sort(p.slices.begin(), p.slices.end(), [](const SliceRef& a, const SliceRef& b) { return a.begin < b.begin; });
}

}  // namespace zs
