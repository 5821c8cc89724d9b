// Saving and loading the engine's training state (ZeRO stages 0-3).
//
//   zs::save_checkpoint(engine, "out", "", {{"iter", iter}});     // every rank calls it
//   nlohmann::json client = zs::load_checkpoint(engine, "out");   // latest; any world size/stage
//
// Layout and file format: see checkpoint_index.hpp. A save is atomic: the tag directory is written
// as "<tag>.tmp-<pid>" and renamed into place after every rank finished, and `latest` is replaced
// last, so a crash mid-save leaves the previous checkpoint and `latest` intact. The tag directory
// must be on a file system every rank sees (as with DeepSpeed).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "zs/ckpt/file_io.hpp"
#include "zs/engine/engine.hpp"

namespace zs {

// With zero_optimization.stage3_gather_16bit_weights_on_model_save, a stage-3 save also writes
// the whole model's 16-bit weights (and buffers) into <tag>/model_16bit.safetensors, a file
// load_module_weights (train_gpt --init_from) reads.
inline constexpr const char* kModel16bitFile = "model_16bit.safetensors";

struct SaveOptions {
  // Keep only the newest K "global_step<N>" directories (0: keep all). Rank 0 deletes older ones
  // after the new checkpoint is complete.
  int keep_last = 0;
};

// Writes the engine's state under <dir>/<tag> (tag "" = "global_step<N>") and points <dir>/latest
// at it. `client_state` (any JSON object: data position, the trainer's own counters) comes back
// from load_checkpoint. Collective: every rank calls it with the same arguments (rank 0's tag
// wins). Each rank writes the slices of the master weights and optimizer state it owns; at stage
// 0, where every rank holds everything, rank r writes the r-th of N equal pieces of each
// parameter, so the writing is still split across ranks. Returns the tag written. Throws
// CheckpointError on every rank when any rank fails; the previous checkpoint stays intact.
std::string save_checkpoint(Engine& engine, const std::string& dir, const std::string& tag = "",
                            const nlohmann::json& client_state = nlohmann::json::object(),
                            const SaveOptions& options = {});

// Restores <dir>/<tag> (tag "" = the one <dir>/latest names) into the engine: each rank reads the
// parts of every parameter it owns from whichever files hold them, so the world size and ZeRO
// stage may differ from the saving run's. Restores master weights, the optimizer state keys both
// optimizers have, step counters, loss scale, RNG state and module buffers, then refreshes the
// parameters. Verifies size and CRC32 of every file it reads. Different parameter names or shapes
// or another optimizer type are errors naming what differs. Collective. Returns the client state.
nlohmann::json load_checkpoint(Engine& engine, const std::string& dir, const std::string& tag = "");

}  // namespace zs
