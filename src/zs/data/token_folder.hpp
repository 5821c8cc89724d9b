#pragma once
// nanoGPT-style token folders: train.bin and val.bin of little-endian token ids, and beside them
// ZeroShard's meta.json, which records how wide the ids are and the vocabulary they come from:
//
//   {"dtype": "uint32", "vocab_size": 128256, "tokenizer": "meta-llama/Meta-Llama-3-8B"}
//
// uint16 holds vocabularies up to 65,536 ids (GPT-2's); larger ones (Llama 3's 128k) need uint32.
// A folder without meta.json is nanoGPT's own: uint16. scripts/prepare_tokens.py writes such
// folders from text with a tokenizer.json vocabulary; write_token_folder from C++.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zs {

inline constexpr const char* kTokenMetaFile = "meta.json";

struct TokenFolderMeta {
  int token_bytes = 2;         // 2: uint16, 4: uint32
  int64_t vocab_size = 0;      // 0: not recorded
  std::string tokenizer;       // where the ids come from (free text; may be empty)
};

// The folder's meta.json, or nothing when it has none. Throws std::runtime_error naming the file
// when it is malformed (not JSON, an unknown dtype, a vocab_size that does not fit the dtype).
std::optional<TokenFolderMeta> read_token_meta(const std::string& folder);

// The narrowest width for ids below vocab_size: 2 (uint16) up to 65,536, else 4 (uint32).
int token_bytes_for(int64_t vocab_size);

// Writes train.bin, val.bin and meta.json (creating the folder). Ids must be below vocab_size.
void write_token_folder(const std::string& folder, const std::vector<uint32_t>& train, const std::vector<uint32_t>& val,
                        int64_t vocab_size, const std::string& tokenizer);

}  // namespace zs
