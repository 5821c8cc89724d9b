// Data layer: token files, char-level text, synthetic text, and world-size independent batches.
#include <ATen/ops/equal.h>
#include <gtest/gtest.h>
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "zs/data/batch_sampler.hpp"
#include "zs/data/synthetic_text.hpp"
#include "zs/data/token_data.hpp"

namespace {

// A fresh folder under /tmp, removed (with the files in it) when the test ends. POSIX calls, not
// std::filesystem: the pip LibTorch exports its own std::filesystem symbols, which crash when mixed
// with g++ 13's headers on the GPU machine.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/zs_test_data_XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    if (DIR* dir = ::opendir(path_.c_str())) {
      while (const dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..") ::unlink((path_ + "/" + name).c_str());
      }
      ::closedir(dir);
    }
    ::rmdir(path_.c_str());
  }
  operator std::string() const { return path_; }
  std::string operator+(const std::string& rest) const { return path_ + rest; }

 private:
  std::string path_;
};

void write_tokens(const std::string& path, const std::vector<uint16_t>& tokens) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(tokens.data()), static_cast<std::streamsize>(tokens.size() * 2));
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

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
