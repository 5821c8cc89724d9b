#include "zs/data/sentencepiece_tokenizer.hpp"

#include <stdexcept>

#ifdef ZS_WITH_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

namespace zs {

#ifdef ZS_WITH_SENTENCEPIECE

bool have_sentencepiece() { return true; }

struct SentencePieceTokenizer::Impl {
  sentencepiece::SentencePieceProcessor processor;
};

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_path)
    : impl_(std::make_unique<Impl>()), path_(model_path) {
  const auto status = impl_->processor.Load(model_path);
  if (!status.ok()) throw std::runtime_error("cannot load the SentencePiece model '" + model_path + "': " + status.ToString());
}

std::vector<uint32_t> SentencePieceTokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  const auto status = impl_->processor.Encode(text, &ids);
  if (!status.ok()) throw std::runtime_error("SentencePiece (" + path_ + ") cannot encode the text: " + status.ToString());
  return std::vector<uint32_t>(ids.begin(), ids.end());
}

std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  const auto status = impl_->processor.Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  if (!status.ok()) throw std::runtime_error("SentencePiece (" + path_ + ") cannot decode: " + status.ToString());
  return text;
}

int64_t SentencePieceTokenizer::vocab_size() const { return impl_->processor.GetPieceSize(); }
int64_t SentencePieceTokenizer::bos_id() const { return impl_->processor.bos_id(); }
int64_t SentencePieceTokenizer::eos_id() const { return impl_->processor.eos_id(); }

#else

bool have_sentencepiece() { return false; }

struct SentencePieceTokenizer::Impl {};

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_path) : path_(model_path) {
  throw std::runtime_error("cannot read '" + model_path +
                           "': this build has no sentencepiece (install Debian's libsentencepiece-dev and rebuild, "
                           "or prepare a token folder with scripts/prepare_tokens.py)");
}
std::vector<uint32_t> SentencePieceTokenizer::encode(const std::string&) const { return {}; }
std::string SentencePieceTokenizer::decode(const std::vector<int64_t>&) const { return {}; }
int64_t SentencePieceTokenizer::vocab_size() const { return 0; }
int64_t SentencePieceTokenizer::bos_id() const { return -1; }
int64_t SentencePieceTokenizer::eos_id() const { return -1; }

#endif

SentencePieceTokenizer::~SentencePieceTokenizer() = default;
SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer& SentencePieceTokenizer::operator=(SentencePieceTokenizer&&) noexcept = default;

}  // namespace zs
