// save_checkpoint: every rank writes its shard file into "<tag>.tmp-<pid>", rank 0 writes the
// index, renames the directory into place and replaces `latest` (see checkpoint.hpp).
#include <algorithm>
#include <cctype>
#include <functional>
#include <map>

#include <unistd.h>

#include <ATen/ops/empty.h>

#include "zs/ckpt/checkpoint.hpp"
#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/module_tensors.hpp"
#include "zs/ckpt/rank_agreement.hpp"
#include "zs/ckpt/safetensors.hpp"
#include "zs/ckpt/shard_file.hpp"
#include "zs/dist/collective_progress.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/optim/loss_scaler.hpp"

namespace zs {

namespace {

void check_tag(const std::string& tag) {
  if (tag.empty() || tag == "latest" || tag == "." || tag == ".." || tag.find('/') != std::string::npos ||
      tag.find(".tmp-") != std::string::npos || tag.find(".old-") != std::string::npos)
    throw CheckpointError("checkpoint tag \"" + tag + "\" is not a plain directory name");
}

// This rank's slices of the engine's state, as a shard file plan plus a reader per parameter,
// called when the writer reaches the tensor (from files, one slice in memory at a time).
struct RankShard {
  ShardFilePlan plan;
  std::map<std::string, std::function<at::Tensor(const std::string& key)>> readers;  // param -> reader of a key
};

RankShard collect_rank_shard(Engine& engine) {
  World& world = engine.world();
  RankShard out;
  out.plan.rank = world.rank();
  out.plan.world_size = world.size();
  std::map<std::string, ParamShard> by_name;
  for (ParamShard& s : engine.param_shards()) by_name.emplace(s.name, std::move(s));
  bool keys_known = false;
  for (const std::string& name : trainable_parameter_names(engine.module())) {
    auto it = by_name.find(name);
    if (it == by_name.end()) continue;   // not handed to the engine
    const ParamShard& s = it->second;
    int64_t begin = s.begin, end = s.end;
    if (engine.shards_replicated()) {   // every rank holds all of it: write the rank's N-th
      const int64_t n = s.end - s.begin;
      begin = s.begin + n * world.rank() / world.size();
      end = s.begin + n * (world.rank() + 1) / world.size();
    }
    if (begin >= end) continue;
    out.plan.slices.push_back({name, begin, end});
    if (!keys_known) {   // the optimizer keeps the same state for every slice
      out.plan.state_keys = s.state_keys;
      keys_known = true;
    }
    const int64_t offset = begin - s.begin, count = end - begin;
    out.readers[name] = [read = s.read, offset, count, whole = count == s.end - s.begin](const std::string& key) {
      return whole ? read(key) : read(key).narrow(0, offset, count);
    };
  }
  const c10::Device cpu(c10::kCPU);
  out.plan.extra_tensors.emplace_back(rng_tensor_name(cpu), rng_state(cpu));
  if (!world.device.is_cpu()) out.plan.extra_tensors.emplace_back(rng_tensor_name(world.device), rng_state(world.device));
  if (world.rank() == 0)
    for (const auto& [name, t] : untrained_module_tensors(engine.module()))
      out.plan.extra_tensors.emplace_back("__module__." + name, t);
  return out;
}

FileSummary write_rank_shard(Engine& engine, const std::string& path) {
  const RankShard shard = collect_rank_shard(engine);
  return write_shard_file(path, shard.plan, [&](const ShardSlice& slice, const std::string& key) {
    return shard.readers.at(slice.param)(key);
  });
}

// stage3_gather_16bit_weights_on_model_save: the whole model in the training precision, one
// file rank 0 writes (units are gathered one at a time), loadable with load_module_weights.
void write_16bit_model(Engine& engine, const std::string& path) {
  const bool writer = engine.world().rank() == 0;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  engine.visit_full_parameters([&](const std::string& name, const at::Tensor& value) {
    if (writer) tensors.emplace_back(name, value.to(c10::Device(c10::kCPU), /*non_blocking=*/false, /*copy=*/true));
  });
  if (!writer) return;
  for (const auto& item : untrained_module_tensors(engine.module())) tensors.push_back(item);
  SoloWorkScope solo("writing the 16-bit model");  // the others wait for this in the next collective
  write_safetensors(path, tensors);
}

// Rank 0: the index, from the engine's global state and the headers of every rank's file.
CheckpointIndex build_index(Engine& engine, const std::string& tmp_dir, const std::string& tag,
                            const std::vector<FileSummary>& summaries, const nlohmann::json& client_state) {
  const Config& config = engine.config();
  CheckpointIndex index;
  index.tag = tag;
  index.world_size = engine.world().size();
  index.stage = config.zero.stage;
  index.precision = precision_name(config.precision);
  index.optimizer = config.optimizer.type;
  index.config = config.raw;
  index.counters = engine.counters();
  index.loss_scaler_enabled = engine.loss_scaler().enabled();
  index.loss_scaler = engine.loss_scaler().state();
  index.client_state = client_state;
  for (const auto& item : untrained_module_tensors(engine.module())) index.module_tensors.push_back(item.first);

  std::map<std::string, std::vector<int64_t>> shapes;
  for (const ParamShard& s : engine.param_shards()) shapes[s.name] = s.shape;
  for (const std::string& name : trainable_parameter_names(engine.module()))
    if (shapes.count(name)) index.params.push_back({name, shapes[name], {}});
  add_shard_files_to_index(index, tmp_dir, summaries);
  return index;
}

bool is_step_tag(const std::string& name, int64_t* step) {
  const std::string prefix = "global_step";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  for (size_t i = prefix.size(); i < name.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return false;
  *step = std::stoll(name.substr(prefix.size()));
  return true;
}

// Rank 0, after a complete save: drop leftovers of interrupted saves and, with keep_last, the
// oldest global_step directories.
void clean_up(const std::string& dir, const std::string& kept_tag, int keep_last) {
  std::vector<std::pair<int64_t, std::string>> steps;
  for (const std::string& name : list_directory(dir)) {
    const std::string path = join_path(dir, name);
    if (!is_directory(path)) continue;
    int64_t step = 0;
    if (name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos) {
      remove_tree(path);
    } else if (is_step_tag(name, &step) && name != kept_tag) {
      steps.emplace_back(step, name);
    }
  }
  if (keep_last <= 0) return;
  std::sort(steps.begin(), steps.end());
  const int64_t keep_others = keep_last - 1;   // the new checkpoint is one of the K
  for (int64_t i = 0; i + keep_others < int64_t(steps.size()); ++i) remove_tree(join_path(dir, steps[i].second));
}

}  // namespace

std::string save_checkpoint(Engine& engine, const std::string& dir, const std::string& tag,
                            const nlohmann::json& client_state, const SaveOptions& options) {
  World& world = engine.world();
  // Every rank uses rank 0's tag and temporary directory name.
  const std::string chosen = tag.empty() ? default_tag(engine.global_steps()) : tag;
  const std::string tmp_name = broadcast_string(world, chosen + ".tmp-" + std::to_string(::getpid()));
  const std::string final_tag = tmp_name.substr(0, tmp_name.rfind(".tmp-"));
  check_tag(final_tag);
  const std::string tmp_dir = join_path(dir, tmp_name), tag_dir = join_path(dir, final_tag);

  run_on_all_ranks(world, [&] {
    if (world.rank() != 0) return;
    make_directories(dir);
    remove_tree(tmp_dir);
    make_directories(tmp_dir);
  });

  FileSummary mine;
  try {
    run_on_all_ranks(world, [&] { mine = write_rank_shard(engine, join_path(tmp_dir, shard_file_name(world.rank(), world.size()))); });
    if (engine.config().zero.stage == 3 && engine.config().zero.stage3_gather_16bit_weights_on_model_save)
      run_on_all_ranks(world, [&] { write_16bit_model(engine, join_path(tmp_dir, kModel16bitFile)); });
  } catch (...) {
    if (world.rank() == 0) remove_tree(tmp_dir);
    throw;
  }

  // Every rank's file size and CRC32 to rank 0.
  at::Tensor local = at::empty({2}, at::TensorOptions().dtype(at::kLong));
  local[0] = mine.bytes;
  local[1] = int64_t(mine.crc32);
  at::Tensor gathered = at::empty({2 * world.size()}, at::TensorOptions().dtype(at::kLong).device(world.device));
  if (world.size() > 1) {
    world.comm->all_gather(gathered, local.to(world.device))->wait();
  } else {
    gathered.copy_(local);
  }
  gathered = gathered.cpu();
  std::vector<FileSummary> summaries(world.size());
  for (int r = 0; r < world.size(); ++r)
    summaries[r] = {gathered[2 * r].item<int64_t>(), uint32_t(gathered[2 * r + 1].item<int64_t>())};

  run_on_all_ranks(world, [&] {
    if (world.rank() != 0) return;
    const CheckpointIndex index = build_index(engine, tmp_dir, final_tag, summaries, client_state);
    write_file_atomic(join_path(tmp_dir, "index.json"), index.to_json().dump(1));
    fsync_directory(tmp_dir);
    // Re-saving a tag replaces it: move the old one aside, put the new one in, drop the old.
    const std::string old_dir = tag_dir + ".old-" + std::to_string(::getpid());
    const bool replacing = path_exists(tag_dir);
    if (replacing) rename_path(tag_dir, old_dir);
    rename_path(tmp_dir, tag_dir);
    fsync_directory(dir);
    write_file_atomic(join_path(dir, "latest"), final_tag + "\n");
    if (replacing) remove_tree(old_dir);
    clean_up(dir, final_tag, options.keep_last);
  });
  return final_tag;
}

}  // namespace zs
