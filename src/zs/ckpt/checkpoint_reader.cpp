// load_checkpoint: each rank reads the overlap of its own parameter ranges with the saved slices,
// whatever world size and stage saved them (see checkpoint.hpp).
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>

#include "zs/base/strings.hpp"
#include "zs/ckpt/checkpoint.hpp"
#include "zs/ckpt/checkpoint_files.hpp"
#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/module_tensors.hpp"
#include "zs/ckpt/rank_agreement.hpp"
#include "zs/optim/loss_scaler.hpp"

namespace zs {

namespace {

// Elements a load moves at a time (16 MiB of fp32).
constexpr int64_t kLoadPieceElements = int64_t(1) << 22;

// Adam and AdamW share their state; SGD's, Lion's and Adagrad's are each another kind.
std::string optimizer_family(const std::string& type) {
  const std::string t = ascii_lowercase(type);
  return t.rfind("adam", 0) == 0 ? "adam" : t;
}

void check_compatible(const CheckpointIndex& index, const std::vector<ParamShard>& shards, Engine& engine,
                      const std::string& where) {
  const std::string mine = engine.config().optimizer.type;
  if (optimizer_family(mine) != optimizer_family(index.optimizer))
    throw CheckpointError(where + " was saved with optimizer " + index.optimizer + ", this run uses " + mine);
  // In the module's order, so the first difference reported is the first in the model.
  std::map<std::string, const ParamShard*> by_name;
  for (const ParamShard& s : shards) by_name[s.name] = &s;
  std::set<std::string> names;
  for (const std::string& name : trainable_parameter_names(engine.module())) {
    if (!by_name.count(name)) continue;
    const ParamShard& s = *by_name[name];
    names.insert(s.name);
    const ParamRecord* p = index.find_param(s.name);
    if (!p) throw CheckpointError(where + " has no parameter " + s.name + " (the model differs from the saved one)");
    if (p->shape != s.shape)
      throw CheckpointError(where + ": parameter " + s.name + " has shape " + shape_text(p->shape) +
                            " in the checkpoint but " + shape_text(s.shape) + " in the model");
  }
  for (const ParamRecord& p : index.params)
    if (!names.count(p.name))
      throw CheckpointError(where + " has parameter " + p.name + ", which the model does not have");
}

void load_module_tensors(const CheckpointIndex& index, CheckpointFiles& files, Engine& engine) {
  const auto tensors = untrained_module_tensors(engine.module());
  std::set<std::string> mine;
  for (const auto& item : tensors) mine.insert(item.first);
  for (const std::string& name : index.module_tensors)
    if (!mine.count(name)) throw CheckpointError(files.where() + " has module buffer " + name + ", which the model does not have");
  if (tensors.empty()) return;
  const SafetensorsReader& rank0 = files.open(shard_file_name(0, index.world_size));
  c10::NoGradGuard no_grad;
  for (const auto& [name, t] : tensors) {
    if (std::find(index.module_tensors.begin(), index.module_tensors.end(), name) == index.module_tensors.end())
      throw CheckpointError(files.where() + " has no module buffer " + name);
    const at::Tensor saved = rank0.read("__module__." + name);
    if (saved.sizes() != t.sizes())
      throw CheckpointError(files.where() + ": module buffer " + name + " has shape " + shape_text(saved.sizes().vec()) +
                            " in the checkpoint but " + shape_text(t.sizes().vec()) + " in the model");
    t.copy_(saved);
  }
}

}  // namespace

nlohmann::json load_checkpoint(Engine& engine, const std::string& dir, const std::string& tag) {
  World& world = engine.world();
  std::string resolved;
  run_on_all_ranks(world, [&] {
    if (world.rank() == 0) resolved = resolve_tag(dir, tag);
  });
  resolved = broadcast_string(world, resolved);
  const std::string where = "checkpoint " + join_path(dir, resolved);

  CheckpointIndex index;
  run_on_all_ranks(world, [&] {
    index = read_checkpoint_index(dir, resolved);
    const std::vector<ParamShard> shards = engine.param_shards();
    check_compatible(index, shards, engine, where);
    CheckpointFiles files(dir, resolved, index);
    // A piece at a time through one host buffer into whichever store holds the state (the
    // device, host memory or files): host memory stays at one piece whatever the model's size.
    const at::Tensor buffer = at::empty({kLoadPieceElements}, at::TensorOptions().dtype(at::kFloat));
    for (const ParamShard& s : shards) {
      if (s.begin >= s.end) continue;
      const ParamRecord& p = *index.find_param(s.name);
      std::vector<std::string> keys{"master"};
      for (const std::string& key : s.state_keys)
        if (std::find(index.optimizer_state_keys.begin(), index.optimizer_state_keys.end(), key) !=
            index.optimizer_state_keys.end())
          keys.push_back(key);
      for (const std::string& key : keys)
        for (int64_t lo = s.begin; lo < s.end; lo += kLoadPieceElements) {
          const int64_t hi = std::min(s.end, lo + kLoadPieceElements);
          const at::Tensor piece = buffer.narrow(0, 0, hi - lo);
          files.read_range(p, key, lo, hi, piece);
          s.write(key, lo - s.begin, piece);
        }
    }
    load_module_tensors(index, files, engine);
    // Ranks beyond the saving run's world size keep their own generator state.
    if (world.rank() < index.world_size) {
      const auto& shard = files.open(shard_file_name(world.rank(), index.world_size));
      for (const c10::Device& d : {c10::Device(c10::kCPU), world.device})
        if (shard.contains(rng_tensor_name(d))) set_rng_state(d, shard.read(rng_tensor_name(d)));
    }
  });

  engine.set_counters(index.counters);
  if (engine.loss_scaler().enabled() && index.loss_scaler_enabled) engine.loss_scaler().load_state(index.loss_scaler);
  engine.refresh_parameters();
  if (world.is_main() && (index.world_size != world.size() || index.stage != engine.config().zero.stage))
    std::printf("[zeroshard] loaded %s saved at %d rank(s), ZeRO stage %d, into %d rank(s), stage %d\n", where.c_str(),
                index.world_size, index.stage, world.size(), engine.config().zero.stage);
  return index.client_state;
}

}  // namespace zs
