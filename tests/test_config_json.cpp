// Config files as DeepSpeed reads them (comments, trailing commas, no duplicate keys) and the
// files no config reader should choke on: directories, unreadable, empty, binary, huge, deeply
// nested. Each gets a ConfigError naming the file and what is wrong, quickly.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "support/error_of.hpp"
#include "support/time_scale.hpp"
#include "zs/config/config.hpp"
#include "zs/config/config_json.hpp"

namespace test_config_json {

using namespace zs;
using nlohmann::json;

namespace {

// The message of the ConfigError that `f` throws ("" if it throws none).
template <class F>
std::string error_of(F&& f) {
  return zs::testing::error_of<ConfigError>(std::forward<F>(f));
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "zs_config_json_" + std::to_string(::getpid()) + "_" + name;
}

std::string write_file(const std::string& name, const std::string& content) {
  const std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

}  // namespace

TEST(ConfigJson, DuplicateKeysAreRejectedWithTheirPath) {
  EXPECT_CONTAINS(error_of([] { parse_config_json(R"({"train_batch_size": 8, "train_batch_size": 16})"); }),
                  "train_batch_size is given twice in one object; DeepSpeed refuses duplicate keys too");
  EXPECT_CONTAINS(error_of([] {
                    parse_config_json(R"({"zero_optimization": {"stage": 2, "overlap_comm": true, "stage": 3}})");
                  }),
                  "zero_optimization.stage is given twice");
  EXPECT_CONTAINS(error_of([] { parse_config_json(R"({"a": [1, {"x": 1}, {"y": 1, "y": 2}]})"); }),
                  "a[2].y is given twice");
  // The same key in two different objects is fine.
  json doc = parse_config_json(R"({"fp16": {"enabled": false}, "bf16": {"enabled": true}})");
  EXPECT_EQ(doc["bf16"]["enabled"], true);
  // parse_config and load_config go through the same check, with the source in front.
  EXPECT_EQ(error_of([] { parse_config(R"({"train_batch_size": 8, "train_batch_size": 8})", 1, {}, "ds.json"); }),
            "ds.json: train_batch_size is given twice in one object; DeepSpeed refuses duplicate keys too: keep one");
}

TEST(ConfigJson, TrailingCommasAndCommentsAreAccepted) {
  json doc = parse_config_json(R"({
      // a comment, with a comma
      "zero_optimization": {"stage": 2, "overlap_comm": true, /* trailing */ },
      "betas": [0.9, 0.95,],
      "text": "a,}b",
    })");
  EXPECT_EQ(doc["zero_optimization"]["stage"], 2);
  EXPECT_EQ(doc["betas"].size(), 2u);
  EXPECT_EQ(doc["text"], "a,}b");  // strings are left alone
  // A comma with nothing before it is still an error, at its own position.
  EXPECT_CONTAINS(error_of([] { parse_config_json("{,}"); }), "invalid JSON: parse error at line 1, column 2");
  EXPECT_CONTAINS(error_of([] { parse_config_json("[1,,]"); }), "invalid JSON");
  EXPECT_CONTAINS(error_of([] { parse_config_json(R"({"a": 1 "b": 2})"); }), "invalid JSON: parse error at line 1");
}

TEST(ConfigJson, DeepNestingIsRefusedQuickly) {
  const auto start = std::chrono::steady_clock::now();
  const std::string deep(100000, '[');
  EXPECT_CONTAINS(error_of([&] { parse_config_json(deep); }),
                  "the config nests deeper than 64 levels of {} and []");
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_CONTAINS(error_of([&] { parse_config_json(objects); }), "(at a.a.a.a");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), zs::testing::time_limit(5.0));
  // 64 levels are fine.
  std::string ok = std::string(63, '[') + "1" + std::string(63, ']');
  EXPECT_NO_THROW(parse_config_json(ok));
}

TEST(ConfigJson, PathologicalFiles) {
  // Missing, a directory.
  EXPECT_CONTAINS(error_of([] { read_config_text("/nonexistent/ds.json"); }),
                  "cannot open config file /nonexistent/ds.json: No such file or directory");
  const std::string dir = temp_path("dir");
  std::filesystem::create_directories(dir);
  EXPECT_EQ(error_of([&] { load_config(dir, 1); }),
            "config file " + dir + " is a directory; give the path of the JSON file");

  // Empty, or only whitespace.
  EXPECT_EQ(error_of([] { load_config(write_file("empty.json", ""), 1); }),
            "config file " + temp_path("empty.json") + " is empty");
  EXPECT_CONTAINS(error_of([] { load_config(write_file("blank.json", "\n  \n"), 1); }), "is empty");

  // Binary: a PNG header, a NUL byte, bytes that are not UTF-8.
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  EXPECT_CONTAINS(error_of([&] { load_config(write_file("image.json", png), 1); }),
                  "is not a text file: byte 0x89 at line 1, column 1 is not UTF-8 text");
  EXPECT_CONTAINS(error_of([] { load_config(write_file("nul.json", std::string("{\"a\":\0}", 7)), 1); }),
                  "byte 0x00 at line 1, column 6");
  EXPECT_CONTAINS(error_of([] { parse_config_json("{\"a\": \"caf\xe9\"}"); }), "byte 0xE9 at line 1, column 11");

  // Huge: refused from its size, without reading it (a sparse file of 300 MB).
  const std::string huge = temp_path("huge.json");
  { std::ofstream(huge) << "{"; }
  std::filesystem::resize_file(huge, 300u << 20);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of([&] { load_config(huge, 1); }),
            "config file " + huge + " is 300 MiB; a config may be at most 16 MiB (a DeepSpeed config is a few KB)");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), zs::testing::time_limit(2.0));
  std::filesystem::remove(huge);

  // Unreadable (as root every file is readable, so there is nothing to check).
  if (::geteuid() != 0) {
    const std::string locked = write_file("locked.json", "{}");
    ::chmod(locked.c_str(), 0);
    EXPECT_CONTAINS(error_of([&] { load_config(locked, 1); }), "cannot open config file " + locked + ": Permission denied");
  }

  // A file that is JSON but not a config.
  EXPECT_CONTAINS(error_of([] { load_config(write_file("array.json", "[1, 2]"), 1); }),
                  "the config must be a JSON object");
  // Parse errors name the file, line and column, and stay short.
  const std::string long_token = "{\"a\": " + std::string(5000, 'x') + "}";
  std::string message = error_of([&] { load_config(write_file("long.json", long_token), 1); });
  EXPECT_CONTAINS(message, temp_path("long.json") + ": invalid JSON: parse error at line 1, column");
  EXPECT_LT(message.size(), 500u);
  EXPECT_CONTAINS(error_of([] { parse_config_json(R"({"a": 1e400})"); }), "invalid JSON");
}

// Found by fuzzing: a number past what a double holds is a ConfigError that says where it is, and
// integers past 2^53, floats where integers go and negative sizes are refused, never wrapped.
TEST(ConfigJson, NumbersOutOfRangeAreConfigErrors) {
  EXPECT_EQ(error_of([] { parse_config(R"({"train_batch_size": 32, "gradient_accumulation_steps": 1e3083})", 1, {}, "ds.json"); }),
            "ds.json: invalid JSON: the number 1e3083 at line 1, column 57 is out of range (a number in a config lies "
            "within +-1.8e308)");
  EXPECT_CONTAINS(error_of([] { parse_config("{\n  \"gradient_clipping\": -1e400\n}", 1); }),
                  "the number -1e400 at line 2, column 24 is out of range");
  for (const char* number : {"1e300", "-1e300", "9e18", "18446744073709551615", "99999999999999999999999",
                             "-9223372036854775808", "9007199254740993"})
    EXPECT_CONTAINS(error_of([&] { parse_config(std::string(R"({"train_batch_size": 8, "steps_per_print": )") + number + "}", 1); }),
                    "is out of range: integers in a config lie within +-2^53")
        << number;
  EXPECT_CONTAINS(
      error_of([] { parse_config(R"({"train_batch_size": 8, "zero_optimization": {"stage": 3, "sub_group_size": 1e300}})", 1); }),
      "zero_optimization.sub_group_size 1e+300 is out of range: integers in a config lie within +-2^53 (9007199254740992)");
  EXPECT_CONTAINS(error_of([] { parse_config(R"({"train_batch_size": 8, "steps_per_print": 2.5})", 1); }),
                  "steps_per_print must be an integer, got number 2.5");
  EXPECT_CONTAINS(error_of([] { parse_config(R"({"train_batch_size": 8, "zero_optimization": {"stage": 2, "reduce_bucket_size": -5}})", 1); }),
                  "zero_optimization.reduce_bucket_size must be at least 0, got -5");
  EXPECT_CONTAINS(error_of([] { parse_config(R"({"train_micro_batch_size_per_gpu": 1000000000, "gradient_accumulation_steps": 1000000000})", 8); }),
                  "is more than 10^12 samples per optimizer step");
  // 2^53 itself and DeepSpeed's big defaults (sub_group_size 1e12, a persistence threshold of sys.maxsize) read.
  EXPECT_EQ(parse_config(R"({"train_batch_size": 8, "steps_per_print": 9007199254740992})", 1).steps_per_print,
            int64_t(1) << 53);
  EXPECT_NO_THROW(parse_config(R"({"train_batch_size": 8, "zero_optimization": {"stage": 3, "sub_group_size": 1e12,
      "stage3_model_persistence_threshold": 9223372036854775807}})", 1));
}

TEST(ConfigJson, LoadConfigJsonPrefixesThePath) {
  const std::string path = write_file("dup.json", "{\"fp16\": {\"enabled\": true, \"enabled\": false}}");
  EXPECT_EQ(error_of([&] { load_config_json(path); }),
            path + ": fp16.enabled is given twice in one object; DeepSpeed refuses duplicate keys too: keep one");
  const std::string good = write_file("good.json", "{\"train_batch_size\": 4,}\n");
  EXPECT_EQ(load_config_json(good)["train_batch_size"], 4);
  EXPECT_EQ(load_config(good, 2).train_micro_batch_size_per_gpu, 2);
}

}  // namespace test_config_json
