#pragma once
// A token dataset with a train and a val split, from either
//   - a nanoGPT prepared folder: train.bin / val.bin of uint16 tokens (memory-mapped), with the
//     vocabulary size from its meta.pkl when it has one (nanogpt_meta.hpp), else the caller's; or
//     of uint32 tokens where ZeroShard's meta.json says so (token_folder.hpp), or
//   - a plain UTF-8 text file (or string): character-level over bytes (see CharVocab), split 90/10
//     into train/val like nanoGPT's shakespeare_char preparation.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "zs/data/char_vocab.hpp"
#include "zs/data/token_array.hpp"

namespace zs {

enum class Split { Train, Val };
Split parse_split(const std::string& name);  // "train" or "val"; anything else throws
const char* split_name(Split split);

class TokenData {
 public:
  // Folder holding train.bin and val.bin. vocab_size 0: meta.json's or meta.pkl's vocab_size when
  // the folder has one (and meta.pkl's characters for vocab(), when they are single bytes), else
  // nanoGPT's 50304. A vocab_size below meta.json's is an error.
  static TokenData from_bin_folder(const std::string& folder, int64_t vocab_size = 0);
  // Text file, char-level. Throws std::runtime_error naming the path if missing or empty.
  static TokenData from_text_file(const std::string& path, double train_fraction = 0.9);
  // Text in memory, char-level; source_name appears in error messages.
  static TokenData from_text(const std::string& text, double train_fraction = 0.9,
                             const std::string& source_name = "<text>");
  // Token ids from a tokenizer, split train_fraction / rest (held as uint16 where vocab_size allows).
  static TokenData from_tokens(const std::vector<uint32_t>& ids, int64_t vocab_size, double train_fraction = 0.9,
                               const std::string& source_name = "<tokens>");
  // A folder with train.bin is read as tokens, anything else as a text file.
  static TokenData load(const std::string& path, int64_t vocab_size = 0);

  const TokenArray& tokens(Split split) const { return split == Split::Train ? train_ : val_; }
  int64_t vocab_size() const { return vocab_size_; }
  const std::string& source() const { return source_; }

  // Present only for char-level data: the byte vocabulary to encode prompts and decode samples.
  const std::optional<CharVocab>& vocab() const { return vocab_; }

 private:
  TokenArray train_;
  TokenArray val_;
  int64_t vocab_size_ = 0;
  std::string source_;
  std::optional<CharVocab> vocab_;
};

}  // namespace zs
