// Token data beyond nanoGPT's uint16: uint32 token files (vocabularies past 65,535, such as
// Llama 3's) with the width recorded in meta.json, token ids from a tokenizer, and raw text
// through a SentencePiece model (trained here on a small text with the library's own trainer).
#include <gtest/gtest.h>

#include <fstream>

#include "support/error_of.hpp"
#include "support/run_ranks.hpp"
#include "zs/ckpt/file_io.hpp"
#include "zs/data/batch_sampler.hpp"
#include "zs/data/sentencepiece_tokenizer.hpp"
#include "zs/data/synthetic_text.hpp"
#include "zs/data/token_data.hpp"
#include "zs/data/token_folder.hpp"

#ifdef ZS_WITH_SENTENCEPIECE_TRAINER
#include <sentencepiece_trainer.h>
#endif

namespace test_tokens {

using namespace zs::testing;

namespace {

using zs::testing::error_of;

}  // namespace

TEST(Tokens, Uint32FolderWithMetaJson) {
  const std::string dir = temp_dir("tokens32");
  std::vector<uint32_t> train(3000), val(400);
  for (size_t i = 0; i < train.size(); ++i) train[i] = uint32_t(100000 + i % 2000);
  for (size_t i = 0; i < val.size(); ++i) val[i] = uint32_t(i * 300);
  zs::write_token_folder(dir, train, val, 128256, "test");
  const auto meta = zs::read_token_meta(dir);
  ASSERT_TRUE(meta.has_value());
  EXPECT_EQ(meta->token_bytes, 4);
  EXPECT_EQ(meta->vocab_size, 128256);
  EXPECT_EQ(zs::file_size_or_minus_one(dir + "/train.bin"), 3000 * 4);

  const zs::TokenData data = zs::TokenData::load(dir);   // vocab_size from meta.json
  EXPECT_EQ(data.vocab_size(), 128256);
  EXPECT_EQ(data.tokens(zs::Split::Train).token_bytes(), 4);
  EXPECT_EQ(data.tokens(zs::Split::Train)[1999], 101999);
  zs::GlobalBatchSampler sampler(data, 16, 3);
  const zs::Batch b = sampler.batch(zs::Split::Val, 0, 0, 0, 1, 2);
  for (int64_t s = 0; s < 2; ++s) {
    const int64_t first = b.x[s][0].item<int64_t>();
    for (int64_t t = 0; t < 16; ++t) {
      EXPECT_EQ(b.x[s][t].item<int64_t>(), first + 300 * t);
      EXPECT_EQ(b.y[s][t].item<int64_t>(), first + 300 * (t + 1));
    }
  }
  // A vocabulary smaller than the folder's is refused; so is a uint16 folder claiming 128k ids.
  EXPECT_NE(error_of([&] { zs::TokenData::load(dir, 50000); }).find("meta.json"), std::string::npos);
  zs::write_token_folder(dir + "/small", {1, 2, 3}, {4, 5}, 1000, "");
  EXPECT_EQ(zs::read_token_meta(dir + "/small")->token_bytes, 2);
  std::ofstream(dir + "/small/meta.json") << R"({"dtype": "uint16", "vocab_size": 128256})";
  EXPECT_NE(error_of([&] { zs::read_token_meta(dir + "/small"); }).find("does not fit uint16"), std::string::npos);
  std::ofstream(dir + "/small/meta.json") << R"({"dtype": "int8"})";
  EXPECT_NE(error_of([&] { zs::read_token_meta(dir + "/small"); }).find("\"int8\""), std::string::npos);
  // A uint32 file whose size is not a whole number of tokens.
  std::ofstream(dir + "/val.bin", std::ios::app) << "xy";
  EXPECT_NE(error_of([&] { zs::TokenData::load(dir); }).find("uint32"), std::string::npos);
}

TEST(Tokens, FromTokenizerIds) {
  std::vector<uint32_t> ids(1000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = uint32_t(i * 97 % 70000);
  const zs::TokenData wide = zs::TokenData::from_tokens(ids, 70000, 0.9, "ids");
  EXPECT_EQ(wide.tokens(zs::Split::Train).size(), 900u);
  EXPECT_EQ(wide.tokens(zs::Split::Train).token_bytes(), 4);
  EXPECT_EQ(wide.tokens(zs::Split::Val)[0], int64_t(ids[900]));
  const zs::TokenData narrow = zs::TokenData::from_tokens(std::vector<uint32_t>(ids.begin(), ids.begin() + 10), 65536);
  EXPECT_EQ(narrow.tokens(zs::Split::Train).token_bytes(), 2);
}

TEST(Tokens, SentencePieceModel) {
  if (!zs::have_sentencepiece()) {
    EXPECT_NE(error_of([] { zs::SentencePieceTokenizer t("x.model"); }).find("libsentencepiece-dev"), std::string::npos);
    GTEST_SKIP() << "this build has no sentencepiece";
  }
#ifdef ZS_WITH_SENTENCEPIECE_TRAINER
  const std::string dir = temp_dir("spm");
  const std::string text = zs::synthetic_text(100000, 5);
  std::ofstream(dir + "/text.txt") << text;
  const auto status = sentencepiece::SentencePieceTrainer::Train(
      "--input=" + dir + "/text.txt --model_prefix=" + dir + "/tok --vocab_size=300 --model_type=bpe "
      "--minloglevel=2 --bos_id=1 --eos_id=2 --unk_id=0 --character_coverage=1.0 "
      "--normalization_rule_name=identity --remove_extra_whitespaces=false");
  ASSERT_TRUE(status.ok()) << status.ToString();
  const zs::SentencePieceTokenizer tok(dir + "/tok.model");
  EXPECT_EQ(tok.vocab_size(), 300);
  EXPECT_EQ(tok.bos_id(), 1);
  std::string sample = text.substr(0, 200);   // one line: the trainer reads its input line by line
  for (char& c : sample) c = c == '\n' ? ' ' : c;
  const std::vector<uint32_t> ids = tok.encode(sample);
  EXPECT_LT(ids.size(), sample.size());   // pieces longer than a byte
  EXPECT_EQ(tok.decode(std::vector<int64_t>(ids.begin(), ids.end())), sample);
#else
  GTEST_SKIP() << "no sentencepiece trainer library to make a model with";
#endif
  EXPECT_NE(error_of([] { zs::SentencePieceTokenizer t("/nonexistent/tokenizer.model"); }).find("/nonexistent/tokenizer.model"),
            std::string::npos);
}

}  // namespace test_tokens
