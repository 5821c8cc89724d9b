// The checkpoint's table of contents, index.json in the tag directory (written by rank 0):
//
//   <dir>/latest                        the tag of the newest complete checkpoint
//   <dir>/<tag>/index.json              this index
//   <dir>/<tag>/rank_<r>_of_<N>.safetensors
//       "<param>.master", "<param>.<state key>": 1-D fp32 slices [begin, end) of the flattened
//       parameter that rank r wrote; "__rng__.cpu" (and on GPUs "__rng__.cuda": rank r's generator states, uint8);
//       rank 0 also holds "__module__.<name>" (the module's buffers and frozen parameters).
//
// The index records, per parameter, its shape and the slices that hold it (file, begin, end),
// so a checkpoint loads at another world size or ZeRO stage; and per file its size and CRC32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "zs/engine/engine.hpp"
#include "zs/optim/loss_scaler.hpp"

namespace zs {

inline constexpr int kCheckpointFormatVersion = 1;
inline constexpr const char* kCheckpointFormatName = "zeroshard-checkpoint";

struct SliceRef {
  std::string file;
  int64_t begin = 0, end = 0;   // elements of the flattened parameter
};

struct ParamRecord {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<SliceRef> slices;   // sorted by begin, covering [0, numel) exactly once
  int64_t numel() const;
};

struct FileRecord {
  std::string name;               // relative to the tag directory
  int rank = 0;
  int64_t bytes = 0;
  uint32_t crc32 = 0;
};

struct CheckpointIndex {
  int format_version = kCheckpointFormatVersion;
  std::string tag;
  int world_size = 1;
  int stage = 0;
  std::string precision;          // of the run that saved: "fp32", "bf16", "fp16"
  std::string master_dtype = "F32";
  std::string optimizer;          // "Adam", "AdamW", "SGD", "Lion", "Adagrad"
  std::vector<std::string> optimizer_state_keys;   // e.g. exp_avg, exp_avg_sq
  nlohmann::json config;          // the resolved DeepSpeed config
  TrainingCounters counters;
  bool loss_scaler_enabled = false;
  LossScaler::State loss_scaler{1.0, 0, -1, 0};
  std::vector<ParamRecord> params;          // in the module's registration order
  std::vector<std::string> module_tensors;  // buffers and frozen parameters, in rank 0's file
  std::vector<FileRecord> files;
  nlohmann::json client_state = nlohmann::json::object();

  nlohmann::json to_json() const;
  // Throws CheckpointError naming `where` for a malformed index or an unknown format version.
  static CheckpointIndex from_json(const nlohmann::json& doc, const std::string& where);

  const ParamRecord* find_param(const std::string& name) const;
  const FileRecord* find_file(const std::string& name) const;
};

std::string shard_file_name(int rank, int world_size);   // "rank_<r>_of_<N>.safetensors"
std::string default_tag(int64_t global_steps);           // "global_step<N>"

// The tag to load: `tag` itself, or the contents of <dir>/latest when empty. Throws
// CheckpointError when there is no checkpoint.
std::string resolve_tag(const std::string& dir, const std::string& tag);
CheckpointIndex read_checkpoint_index(const std::string& dir, const std::string& tag);
// The index from the text of an index.json; throws CheckpointError naming `where` when it is not
// JSON or not a valid index.
CheckpointIndex parse_checkpoint_index(const std::string& text, const std::string& where);

}  // namespace zs
