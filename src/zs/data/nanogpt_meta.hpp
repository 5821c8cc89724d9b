// nanoGPT's meta.pkl: what its char-level prepare scripts write beside train.bin and val.bin,
//
//   pickle.dump({'vocab_size': 65, 'itos': {0: '\n', 1: ' ', ...}, 'stoi': {...}}, f)
//
// and train.py reads for the model's vocabulary size. It is a Python pickle; this reader takes
// only the few opcodes such a dict of ints and strings is written with (protocols 2-5) and refuses
// anything else with a clear error, so it never runs or builds objects a pickle could name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zs {

struct NanoGptMeta {
  int64_t vocab_size = 0;
  std::vector<std::string> itos;   // id -> text (UTF-8) when the file has an `itos` dict; else empty
};

// Throws std::runtime_error naming `path` for a missing file, a pickle with anything but dicts,
// ints and strings in it, or a dict without an int `vocab_size`.
NanoGptMeta read_nanogpt_meta(const std::string& path);
NanoGptMeta parse_nanogpt_meta(const std::string& bytes, const std::string& source);

}  // namespace zs
