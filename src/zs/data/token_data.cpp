#include "zs/data/token_data.hpp"

#include "zs/data/nanogpt_meta.hpp"
#include "zs/data/token_folder.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace zs {

Split parse_split(const std::string& name) {
  if (name == "train") return Split::Train;
  if (name == "val") return Split::Val;
  throw std::invalid_argument("unknown data split '" + name + "' (expected \"train\" or \"val\")");
}

const char* split_name(Split split) { return split == Split::Train ? "train" : "val"; }

namespace {
bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

TokenData TokenData::from_bin_folder(const std::string& folder, int64_t vocab_size) {
  if (!is_directory(folder)) throw std::runtime_error("data folder '" + folder + "' does not exist");
  TokenData d;
  // ZeroShard's meta.json: the ids' width, and the vocabulary they come from.
  const std::optional<TokenFolderMeta> meta_json = read_token_meta(folder);
  const int token_bytes = meta_json ? meta_json->token_bytes : 2;
  if (meta_json && meta_json->vocab_size > 0) {
    if (vocab_size == 0) vocab_size = meta_json->vocab_size;
    if (vocab_size < meta_json->vocab_size)
      throw std::invalid_argument("vocab_size " + std::to_string(vocab_size) + " is smaller than the vocabulary of " +
                                  std::to_string(meta_json->vocab_size) + " that " + folder + "/meta.json records");
  }
  struct stat st {};
  if (vocab_size == 0 && ::stat((folder + "/meta.pkl").c_str(), &st) == 0) {
    const NanoGptMeta meta = read_nanogpt_meta(folder + "/meta.pkl");
    vocab_size = meta.vocab_size;
    // nanoGPT's char-level sets: the sorted characters of the text; kept when they are bytes, as
    // CharVocab's are, so prompts can be encoded and samples decoded.
    std::string chars;
    for (const std::string& c : meta.itos) chars += c.size() == 1 ? c : std::string();
    if (!meta.itos.empty() && chars.size() == meta.itos.size()) {
      CharVocab vocab(chars);
      bool same = vocab.size() == int64_t(chars.size());
      for (int64_t i = 0; same && i < vocab.size(); ++i) same = vocab.decode(std::vector<int64_t>{i}) == meta.itos[size_t(i)];
      if (same) d.vocab_.emplace(std::move(vocab));
    }
  }
  if (vocab_size == 0) vocab_size = 50304;
  if (vocab_size < 0 || (token_bytes == 2 && vocab_size > 65536))
    throw std::invalid_argument("vocab_size " + std::to_string(vocab_size) + " does not fit the uint16 tokens of " + folder +
                                " (a folder of uint32 tokens says so in its meta.json: {\"dtype\": \"uint32\"})");
  d.source_ = folder;
  d.vocab_size_ = vocab_size;
  d.train_ = TokenArray::map_file(folder + "/train.bin", token_bytes);
  d.val_ = TokenArray::map_file(folder + "/val.bin", token_bytes);
  // Token ids are checked against vocab_size as batches are built (a full scan of a multi-GB file
  // at start-up would cost more than it saves).
  return d;
}

TokenData TokenData::from_text_file(const std::string& path, double train_fraction) {
  if (is_directory(path))
    throw std::runtime_error("'" + path + "' is a folder without train.bin; expected a text file or a nanoGPT data folder");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open text file '" + path + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return from_text(buffer.str(), train_fraction, path);
}

TokenData TokenData::from_text(const std::string& text, double train_fraction, const std::string& source_name) {
  if (text.empty()) throw std::runtime_error("text '" + source_name + "' is empty");
  if (!(train_fraction > 0.0 && train_fraction < 1.0))
    throw std::invalid_argument("train_fraction must be in (0, 1), got " + std::to_string(train_fraction));
  TokenData d;
  d.source_ = source_name;
  d.vocab_.emplace(text);
  d.vocab_size_ = d.vocab_->size();
  auto ids = d.vocab_->encode(text);
  const auto n_train = static_cast<size_t>(static_cast<double>(ids.size()) * train_fraction);
  d.train_ = TokenArray::from_vector(std::vector<uint16_t>(ids.begin(), ids.begin() + static_cast<long>(n_train)));
  d.val_ = TokenArray::from_vector(std::vector<uint16_t>(ids.begin() + static_cast<long>(n_train), ids.end()));
  return d;
}

TokenData TokenData::from_tokens(const std::vector<uint32_t>& ids, int64_t vocab_size, double train_fraction,
                                  const std::string& source_name) {
  if (!(train_fraction > 0.0 && train_fraction < 1.0))
    throw std::invalid_argument("train_fraction must be in (0, 1), got " + std::to_string(train_fraction));
  if (vocab_size <= 0) throw std::invalid_argument("vocab_size must be positive, got " + std::to_string(vocab_size));
  TokenData d;
  d.source_ = source_name;
  d.vocab_size_ = vocab_size;
  const auto n_train = static_cast<long>(static_cast<double>(ids.size()) * train_fraction);
  if (token_bytes_for(vocab_size) == 2) {
    d.train_ = TokenArray::from_vector(std::vector<uint16_t>(ids.begin(), ids.begin() + n_train));
    d.val_ = TokenArray::from_vector(std::vector<uint16_t>(ids.begin() + n_train, ids.end()));
  } else {
    d.train_ = TokenArray::from_vector(std::vector<uint32_t>(ids.begin(), ids.begin() + n_train));
    d.val_ = TokenArray::from_vector(std::vector<uint32_t>(ids.begin() + n_train, ids.end()));
  }
  return d;
}

TokenData TokenData::load(const std::string& path, int64_t vocab_size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("data path '" + path + "' does not exist");
  if (is_directory(path) && ::stat((path + "/train.bin").c_str(), &st) == 0) return from_bin_folder(path, vocab_size);
  return from_text_file(path);
}

}  // namespace zs
