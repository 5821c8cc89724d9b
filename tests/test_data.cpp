// Data layer: token files, char-level text, synthetic text, and world-size independent batches.
#include <ATen/ops/equal.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support/error_of.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "zs/data/batch_sampler.hpp"
#include "zs/data/nanogpt_meta.hpp"
#include "zs/data/synthetic_text.hpp"
#include "zs/data/token_data.hpp"

namespace test_data {

namespace {

using zs::testing::TempDir;

void write_tokens(const std::string& path, const std::vector<uint16_t>& tokens) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(tokens.data()), static_cast<std::streamsize>(tokens.size() * 2));
}

using zs::testing::write_text;

using zs::testing::error_of;

// Offsets of every sample a step hands out, grouped by global sample index.
std::map<int64_t, std::vector<int64_t>> samples_of_step(const zs::GlobalBatchSampler& sampler, int64_t step,
                                                        int world, int64_t micro, int64_t accum) {
  std::map<int64_t, std::vector<int64_t>> out;
  for (int64_t m = 0; m < accum; ++m) {
    for (int r = 0; r < world; ++r) {
      auto b = sampler.batch(zs::Split::Train, step, m, r, world, micro);
      EXPECT_EQ(b.x.sizes(), (at::IntArrayRef{micro, sampler.block_size()}));
      for (int64_t s = 0; s < micro; ++s) {
        const int64_t global = (m * world + r) * micro + s;
        auto row = b.x[s];
        out[global] = std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
      }
    }
  }
  return out;
}

}  // namespace

TEST(Data, BinFolderIsMemoryMapped) {
  const TempDir dir;
  std::vector<uint16_t> train(1000), val(200);
  for (size_t i = 0; i < train.size(); ++i) train[i] = static_cast<uint16_t>(i % 500);
  for (size_t i = 0; i < val.size(); ++i) val[i] = static_cast<uint16_t>(60000 + i);
  write_tokens(dir + "/train.bin", train);
  write_tokens(dir + "/val.bin", val);
  auto data = zs::TokenData::load(dir, 65536);
  EXPECT_EQ(data.vocab_size(), 65536);
  EXPECT_FALSE(data.vocab().has_value());
  ASSERT_EQ(data.tokens(zs::Split::Train).size(), 1000u);
  ASSERT_EQ(data.tokens(zs::Split::Val).size(), 200u);
  EXPECT_EQ(data.tokens(zs::Split::Train)[777], 277);
  EXPECT_EQ(data.tokens(zs::Split::Val)[5], 60005);

  // Windows are consecutive tokens and y is x shifted by one.
  zs::GlobalBatchSampler sampler(data, 32, 1);
  auto b = sampler.batch("val", 0, 0, 0, 1, 4);
  for (int64_t s = 0; s < 4; ++s) {
    const int64_t start = b.x[s][0].item<int64_t>() - 60000;
    EXPECT_EQ(start, sampler.sample_offset(zs::Split::Val, 0, s));
    for (int64_t t = 0; t < 32; ++t) {
      EXPECT_EQ(b.x[s][t].item<int64_t>(), 60000 + start + t);
      EXPECT_EQ(b.y[s][t].item<int64_t>(), 60000 + start + t + 1);
    }
  }

  // A token id beyond the vocabulary the caller gave is reported, naming the data.
  zs::GlobalBatchSampler small_vocab(zs::TokenData::from_bin_folder(dir, 50304), 32, 1);
  EXPECT_NE(error_of([&] { small_vocab.batch("val", 0, 0, 0, 1, 1); }).find(dir), std::string::npos);
}

TEST(Data, ClearErrorsNameThePath) {
  const TempDir dir;
  EXPECT_NE(error_of([&] { zs::TokenData::load(dir + "/nope.txt"); }).find(dir + "/nope.txt"), std::string::npos);
  EXPECT_NE(error_of([&] { zs::TokenData::from_bin_folder(dir); }).find(dir + "/train.bin"), std::string::npos);
  write_text(dir + "/empty.txt", "");
  const auto empty_error = error_of([&] { zs::TokenData::load(dir + "/empty.txt"); });
  EXPECT_NE(empty_error.find(dir + "/empty.txt"), std::string::npos);
  EXPECT_NE(empty_error.find("empty"), std::string::npos);
  write_text(dir + "/short.txt", "hello world, this is short");
  auto data = zs::TokenData::load(dir + "/short.txt");
  const auto short_error = error_of([&] { zs::GlobalBatchSampler(data, 64, 0); });
  EXPECT_NE(short_error.find(dir + "/short.txt"), std::string::npos);
  EXPECT_NE(short_error.find("block_size"), std::string::npos);
  write_tokens(dir + "/train.bin", {1, 2, 3});
  write_tokens(dir + "/val.bin", {});
  EXPECT_NE(error_of([&] { zs::TokenData::load(dir); }).find(dir + "/val.bin"), std::string::npos);
}

TEST(Data, CharLevelText) {
  const std::string text = "to be or not to be, that is the question\nwhether 'tis nobler in the mind";
  const TempDir dir;
  write_text(dir + "/t.txt", text);
  auto data = zs::TokenData::load(dir + "/t.txt");
  ASSERT_TRUE(data.vocab().has_value());
  const auto& vocab = *data.vocab();
  EXPECT_EQ(data.vocab_size(), vocab.size());
  EXPECT_EQ(vocab.size(), static_cast<int64_t>(std::set<char>(text.begin(), text.end()).size()));
  // Sorted by byte value: '\n' first, then ' ', ...
  EXPECT_EQ(vocab.decode(std::vector<int64_t>{0, 1}), "\n ");
  EXPECT_EQ(vocab.decode(vocab.encode_tensor(text)), text);
  EXPECT_THROW(vocab.encode("xyz"), std::invalid_argument);  // 'x', 'y', 'z' never appear
  // 90/10 split.
  const auto n_train = static_cast<size_t>(text.size() * 0.9);
  EXPECT_EQ(data.tokens(zs::Split::Train).size(), n_train);
  EXPECT_EQ(data.tokens(zs::Split::Val).size(), text.size() - n_train);
  EXPECT_EQ(data.tokens(zs::Split::Val)[0], vocab.encode(text.substr(n_train, 1))[0]);
  // UTF-8 survives the round trip (multi-byte characters are several byte tokens).
  const std::string utf8 = "na\xc3\xafve caf\xc3\xa9 \xe2\x82\xac";
  zs::CharVocab v(utf8);
  EXPECT_EQ(v.decode(v.encode_tensor(utf8)), utf8);
}

TEST(Data, SyntheticTextIsDeterministicEnglishLike) {
  const auto a = zs::synthetic_text(20000, 42);
  EXPECT_EQ(a.size(), 20000u);
  EXPECT_EQ(a, zs::synthetic_text(20000, 42));
  EXPECT_NE(a, zs::synthetic_text(20000, 43));
  EXPECT_EQ(zs::synthetic_text(100, 42), a.substr(0, 100));
  EXPECT_NE(a.find(". "), std::string::npos);
  EXPECT_NE(a.find("\n\n"), std::string::npos);
  EXPECT_NE(a.find(" the "), std::string::npos);
  // A small alphabet: printable ASCII and newlines only.
  zs::CharVocab vocab(a);
  EXPECT_LT(vocab.size(), 64);
  for (char c : a) EXPECT_TRUE(c == '\n' || (c >= ' ' && c <= '~'));
}

TEST(Data, GlobalBatchIsTheSameForAnyWorldSize) {
  auto data = zs::TokenData::from_text(zs::synthetic_text(50000, 1));
  zs::GlobalBatchSampler sampler(data, 24, 1234);
  // Global batch of 12 samples: (world, micro, accum) = (1, 4, 3), (2, 2, 3), (3, 4, 1), (3, 1, 4).
  for (int64_t step : {0, 1, 17}) {
    const auto reference = samples_of_step(sampler, step, 1, 4, 3);
    ASSERT_EQ(reference.size(), 12u);
    EXPECT_EQ(samples_of_step(sampler, step, 2, 2, 3), reference);
    EXPECT_EQ(samples_of_step(sampler, step, 3, 4, 1), reference);
    EXPECT_EQ(samples_of_step(sampler, step, 3, 1, 4), reference);
  }
  // Different steps and splits draw different samples.
  EXPECT_NE(samples_of_step(sampler, 0, 1, 4, 3), samples_of_step(sampler, 1, 1, 4, 3));
  EXPECT_NE(sampler.sample_offset(zs::Split::Train, 0, 0), sampler.sample_offset(zs::Split::Val, 0, 0));
}

TEST(Data, SamplingIsDeterministicAndCoversTheSplit) {
  auto data = zs::TokenData::from_text(zs::synthetic_text(5000, 2));
  zs::GlobalBatchSampler a(data, 16, 99), b(data, 16, 99), c(data, 16, 100);
  auto ba = a.batch(zs::Split::Train, 5, 1, 1, 2, 8);
  auto bb = b.batch(zs::Split::Train, 5, 1, 1, 2, 8);
  EXPECT_TRUE(at::equal(ba.x, bb.x));
  EXPECT_TRUE(at::equal(ba.y, bb.y));
  EXPECT_FALSE(at::equal(ba.x, c.batch(zs::Split::Train, 5, 1, 1, 2, 8).x));
  // Offsets stay in [0, len - T - 1] and reach both ends of a short split.
  const int64_t len = static_cast<int64_t>(data.tokens(zs::Split::Val).size());
  int64_t lo = len, hi = -1;
  for (int64_t i = 0; i < 20000; ++i) {
    const int64_t o = a.sample_offset(zs::Split::Val, 0, i);
    lo = std::min(lo, o);
    hi = std::max(hi, o);
  }
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, len - 16 - 1);
  EXPECT_THROW(a.batch("test", 0, 0, 0, 1, 1), std::invalid_argument);
  EXPECT_THROW(a.batch("train", 0, 0, 2, 2, 1), std::invalid_argument);
}

// nanoGPT's meta.pkl, as Python's pickle writes {'vocab_size': 5, 'itos': ..., 'stoi': ...} for the
// characters "\n abc" (protocols 2 and 4; protocol 5 writes the same opcodes as 4).
const std::string kMetaProtocol2(
    "\x80\x02\x7d\x71\x00\x28\x58\x0a\x00\x00\x00\x76\x6f\x63\x61\x62\x5f\x73\x69\x7a\x65\x71\x01\x4b\x05\x58\x04\x00\x00"
    "\x00\x69\x74\x6f\x73\x71\x02\x7d\x71\x03\x28\x4b\x00\x58\x01\x00\x00\x00\x0a\x71\x04\x4b\x01\x58\x01\x00\x00\x00\x20"
    "\x71\x05\x4b\x02\x58\x01\x00\x00\x00\x61\x71\x06\x4b\x03\x58\x01\x00\x00\x00\x62\x71\x07\x4b\x04\x58\x01\x00\x00\x00"
    "\x63\x71\x08\x75\x58\x04\x00\x00\x00\x73\x74\x6f\x69\x71\x09\x7d\x71\x0a\x28\x68\x04\x4b\x00\x68\x05\x4b\x01\x68\x06"
    "\x4b\x02\x68\x07\x4b\x03\x68\x08\x4b\x04\x75\x75\x2e",
    129);
const std::string kMetaProtocol4(
    "\x80\x04\x95\x5c\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x0a\x76\x6f\x63\x61\x62\x5f\x73\x69\x7a\x65\x94\x4b\x05"
    "\x8c\x04\x69\x74\x6f\x73\x94\x7d\x94\x28\x4b\x00\x8c\x01\x0a\x94\x4b\x01\x8c\x01\x20\x94\x4b\x02\x8c\x01\x61\x94\x4b"
    "\x03\x8c\x01\x62\x94\x4b\x04\x8c\x01\x63\x94\x75\x8c\x04\x73\x74\x6f\x69\x94\x7d\x94\x28\x68\x04\x4b\x00\x68\x05\x4b"
    "\x01\x68\x06\x4b\x02\x68\x07\x4b\x03\x68\x08\x4b\x04\x75\x75\x2e",
    103);

TEST(NanoGptMeta, ReadsVocabSizeAndCharacters) {
  for (const std::string* bytes : {&kMetaProtocol2, &kMetaProtocol4}) {
    const zs::NanoGptMeta meta = zs::parse_nanogpt_meta(*bytes, "meta.pkl");
    EXPECT_EQ(meta.vocab_size, 5);
    EXPECT_EQ(meta.itos, (std::vector<std::string>{"\n", " ", "a", "b", "c"}));
  }
}

TEST(NanoGptMeta, RefusesOtherPickles) {
  // {'vocab_size': 300, 'x': [1, 2]}: a list is not what meta.pkl holds.
  const std::string with_list("\x80\x04\x95\x21\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x0a\x76\x6f\x63\x61\x62\x5f"
                              "\x73\x69\x7a\x65\x94\x4d\x2c\x01\x8c\x01\x78\x94\x5d\x94\x28\x4b\x01\x4b\x02\x65\x75\x2e", 45);
  auto error = [](const std::string& bytes) {
    try {
      zs::parse_nanogpt_meta(bytes, "m.pkl");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error(with_list).find("opcode 0x5d"), std::string::npos) << error(with_list);
  EXPECT_NE(error(with_list).find("--vocab_size"), std::string::npos);
  EXPECT_NE(error(kMetaProtocol4.substr(0, 50)).find("ends early"), std::string::npos);
  EXPECT_NE(error("cos\nsystem\n").find("opcode 0x63"), std::string::npos);  // GLOBAL: never built
  EXPECT_NE(error(std::string("\x80\x04\x4b\x05\x2e", 5)).find("does not hold a dict"), std::string::npos);
  for (size_t n = 0; n < kMetaProtocol4.size(); ++n) error(kMetaProtocol4.substr(0, n));  // every prefix: no crash
  // A dict holding itself (through the memo) is read, and freed (fuzzing found the leak).
  // d = {'vocab_size': 5}; d['x'] = d; pickle.dumps(d, protocol=4)
  const std::string self("\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x0avocab_size\x94K\x05\x8c\x01x\x94h\x00u.", 37);
  EXPECT_EQ(zs::parse_nanogpt_meta(self, "self.pkl").vocab_size, 5);
}

TEST(TokenData, BinFolderTakesMetaPklVocabulary) {
  TempDir dir;
  write_tokens(dir + "/train.bin", {0, 1, 2, 3, 4, 2, 3, 1, 0, 2, 4, 3, 2, 1});
  write_tokens(dir + "/val.bin", {2, 3, 4, 0, 1, 2, 3, 4, 1, 0});
  std::ofstream(dir + "/meta.pkl", std::ios::binary) << kMetaProtocol4;
  const zs::TokenData data = zs::TokenData::from_bin_folder(dir);
  EXPECT_EQ(data.vocab_size(), 5);
  ASSERT_TRUE(data.vocab().has_value());
  EXPECT_EQ(data.vocab()->decode(std::vector<int64_t>{2, 3, 4, 0}), "abc\n");
  // A vocabulary given by the caller wins.
  EXPECT_EQ(zs::TokenData::from_bin_folder(dir, 64).vocab_size(), 64);
  ::unlink((dir + "/meta.pkl").c_str());
  EXPECT_EQ(zs::TokenData::from_bin_folder(dir).vocab_size(), 50304);   // nanoGPT's default without meta.pkl
}

}  // namespace test_data
