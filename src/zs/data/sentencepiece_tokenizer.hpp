#pragma once
// A SentencePiece model (Llama 2's and TinyLlama's tokenizer.model) through the sentencepiece
// library (Debian's libsentencepiece-dev), to turn raw text into the model's own token ids. Builds
// without the library compile this file too; using it there is a clear error.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zs {

// Whether this build has the sentencepiece library.
bool have_sentencepiece();

class SentencePieceTokenizer {
 public:
  // Loads a tokenizer.model file. Throws std::runtime_error naming it when it cannot be read, or
  // when this build has no sentencepiece.
  explicit SentencePieceTokenizer(const std::string& model_path);
  ~SentencePieceTokenizer();
  SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept;
  SentencePieceTokenizer& operator=(SentencePieceTokenizer&&) noexcept;

  std::vector<uint32_t> encode(const std::string& text) const;   // no BOS/EOS added
  std::string decode(const std::vector<int64_t>& ids) const;
  int64_t vocab_size() const;
  int64_t bos_id() const;   // -1 when the model has none
  int64_t eos_id() const;
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

}  // namespace zs
