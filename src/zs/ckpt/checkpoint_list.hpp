// What a checkpoint directory holds, and which checkpoint a resume should use when `latest` is
// missing or names a damaged or missing tag:
//
//   out/latest -> global_step300   (its rank_1 shard is truncated)
//   => "out/latest names global_step300, which is damaged (shard rank_1_of_2.safetensors is
//       truncated). Checkpoints in out, newest first: global_step300 (damaged: ...),
//       global_step200 (ok). The newest sound one is global_step200: --resume_tag=global_step200"
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zs {

struct CheckpointTagState {
  std::string tag;
  int64_t global_steps = -1;   // from index.json, else from a "global_step<N>" name; -1 unknown
  std::string problem;         // "" when sound (as far as checked)
  bool verified = false;       // the files' CRC32 were checked too, not only index and sizes
};

// The problem with <dir>/<tag>, or "" when it is sound: index.json readable, every shard present
// with the recorded size, and (with `crc`) the recorded CRC32.
std::string check_checkpoint(const std::string& dir, const std::string& tag, bool crc);

// The checkpoints under `dir` (directories holding index.json or named global_step<N>; unfinished
// saves are left out), newest first. Checks index and sizes of each; with `verify_newest_sound`
// also the CRC32 of each from the newest down to the first that passes.
std::vector<CheckpointTagState> list_checkpoints(const std::string& dir, bool verify_newest_sound);

// The tag a resume loads: `tag` when given, else the one `latest` names. Either must exist with
// an index and files of the recorded sizes (CRC32 is checked while loading). Otherwise throws
// CheckpointError listing what `dir` holds and the newest sound checkpoint, and saying how to pick
// it (`pick_flag`=<tag>).
std::string choose_resume_tag(const std::string& dir, const std::string& tag, const std::string& pick_flag);

// The listing part of such a message: "Checkpoints in <dir>, newest first: ... The newest sound
// one is <tag>: <pick_flag>=<tag>." (or that none is sound).
std::string describe_checkpoints(const std::string& dir, const std::string& pick_flag);

}  // namespace zs
