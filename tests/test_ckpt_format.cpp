// The checkpoint file formats in one process: safetensors written and read back, a hand-made
// safetensors file (the format as specified) read, damaged files reported by name; atomic writes;
// the index's JSON round trip and its checks.
#include <cstdio>
#include <cstring>
#include <fstream>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/error_of.hpp"
#include "support/run_ranks.hpp"
#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/file_io.hpp"
#include "zs/ckpt/safetensors.hpp"

namespace test_ckpt_format {

using zs::testing::temp_dir;

namespace {

std::string file_bytes(const std::string& path) { return zs::read_text_file(path); }

using zs::testing::write_text;

// A safetensors file assembled by hand: 8-byte little-endian length, header, data.
std::string hand_made(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

// The message of the CheckpointError that `f` throws ("" if it throws none).
template <class F>
std::string error_of(F&& f) {
  return zs::testing::error_of<zs::CheckpointError>(std::forward<F>(f));
}

}  // namespace

TEST(Safetensors, RoundTripOfEveryDtype) {
  const std::string path = temp_dir("st") + "/t.safetensors";
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"w", at::randn({3, 5})},
      {"b16", at::randn({7}).to(at::kBFloat16)},
      {"h16", at::randn({2, 2}).to(at::kHalf)},
      {"ids", at::arange(10, at::kLong)},
      {"bytes", at::arange(6, at::kByte).view({2, 3})},
      {"scalar", at::ones({}, at::kDouble)},
      {"empty", at::ones({0, 4})},
      {"strided", at::randn({4, 6}).t()},   // written contiguous
  };
  const zs::FileSummary summary = zs::write_safetensors(path, tensors, {{"format", "pt"}, {"note", "x"}});
  EXPECT_EQ(summary.bytes, zs::file_size_or_minus_one(path));
  EXPECT_EQ(summary.crc32, zs::file_crc32(path));

  zs::SafetensorsReader reader(path);
  EXPECT_EQ(reader.metadata().at("note"), "x");
  EXPECT_EQ(reader.tensors().size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    const at::Tensor back = reader.read(name);
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(at::equal(back, t)) << name;
  }
  EXPECT_TRUE(at::equal(reader.read_elements("w", 4, 11), tensors[0].second.reshape(-1).narrow(0, 4, 7)));
  EXPECT_NE(error_of([&] { reader.read_elements("w", 10, 20); }).find("do not fit"), std::string::npos);
  EXPECT_NE(error_of([&] { reader.info("nope"); }).find("has no tensor nope"), std::string::npos);
}

TEST(Safetensors, WriterFollowsTheFormat) {
  const std::string path = temp_dir("st") + "/t.safetensors";
  zs::write_safetensors(path, {{"a", at::arange(3, at::kFloat)}, {"b", at::ones({2}, at::kLong)}});
  const std::string bytes = file_bytes(path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u) << "data starts 8-byte aligned";
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["a"]["dtype"], "F32");
  EXPECT_EQ(header["a"]["shape"], nlohmann::json::array({3}));
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json::array({0, 12}));
  EXPECT_EQ(header["b"]["data_offsets"], nlohmann::json::array({12, 28}));
  EXPECT_EQ(bytes.size(), 8 + n + 28);
  float second;
  std::memcpy(&second, bytes.data() + 8 + n + 4, 4);
  EXPECT_EQ(second, 1.0f);
}

TEST(Safetensors, ReadsAHandMadeFile) {
  const std::string path = temp_dir("st") + "/h.safetensors";
  const float values[2] = {1.5f, -2.0f};
  write_text(path, hand_made(R"({"__metadata__":{"k":"v"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                              std::string(reinterpret_cast<const char*>(values), 8)));
  zs::SafetensorsReader reader(path);
  const at::Tensor x = reader.read("x");
  EXPECT_EQ(x[0].item<float>(), 1.5f);
  EXPECT_EQ(x[1].item<float>(), -2.0f);
  EXPECT_EQ(reader.metadata().at("k"), "v");
}

TEST(Safetensors, DamagedFilesAreNamed) {
  const std::string dir = temp_dir("st");
  const std::string good = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  auto error_for = [&](const std::string& name, const std::string& bytes) {
    write_text(dir + "/" + name, bytes);
    return error_of([&] { zs::SafetensorsReader r(dir + "/" + name); });
  };
  EXPECT_NE(error_for("trunc", hand_made(good, "1234")).find(dir + "/trunc is truncated"), std::string::npos);
  EXPECT_NE(error_for("short", "abc").find("is truncated"), std::string::npos);
  EXPECT_NE(error_for("json", hand_made("{not json", "")).find("corrupt header"), std::string::npos);
  EXPECT_NE(error_for("size", hand_made(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678"))
                .find("has 8 bytes for 3 F32 elements"), std::string::npos);
  EXPECT_NE(error_for("dtype", hand_made(R"({"x":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", "12345678"))
                .find("unknown dtype Q7"), std::string::npos);
  EXPECT_NE(error_for("gap", hand_made(R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", "1234"))
                .find("gap"), std::string::npos);
  EXPECT_NE(error_for("extra", hand_made(good, "123456789")).find("after the last tensor"), std::string::npos);
  std::string huge(8, '\xff');
  EXPECT_NE(error_for("len", huge + "xx").find("corrupt header"), std::string::npos);
  EXPECT_NE(error_of([&] { zs::SafetensorsReader r(dir + "/absent"); }).find("is missing"), std::string::npos);
}

// Found by fuzzing (fuzz/fuzz_safetensors.cpp): sizes whose products overflow int64 and offsets past
// int64 were undefined behaviour; each is now a corrupt header.
TEST(Safetensors, HeaderSizesThatOverflowAreCorrupt) {
  const std::string dir = temp_dir("st");
  auto error_for = [&](const std::string& name, const std::string& header) {
    write_text(dir + "/" + name, hand_made(header, ""));
    return error_of([&] { zs::SafetensorsReader r(dir + "/" + name); });
  };
  EXPECT_NE(error_for("elements", R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}})")
                .find("more elements than a file can hold"), std::string::npos);
  EXPECT_NE(error_for("bytes", R"({"x":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})")
                .find("more elements than a file can hold"), std::string::npos);
  EXPECT_NE(error_for("offset", R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,0]}})")
                .find("bad data_offsets"), std::string::npos);
  EXPECT_NE(error_for("float", R"({"x":{"dtype":"U8","shape":[1e30],"data_offsets":[0,1]}})").find("bad shape"),
            std::string::npos);
  // A zero dimension makes an empty tensor whatever the other sizes.
  write_text(dir + "/empty", hand_made(R"({"x":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]}})", ""));
  EXPECT_EQ(zs::SafetensorsReader(dir + "/empty").read("x").numel(), 0);
}

TEST(AtomicFile, UnfinishedWriteLeavesNothing) {
  const std::string dir = temp_dir("atomic");
  zs::write_file_atomic(dir + "/f", "old");
  {
    zs::AtomicFileWriter w(dir + "/f");
    w.write("new", 3);
  }   // dropped without finish(): as if the process died
  EXPECT_EQ(zs::read_text_file(dir + "/f"), "old");
  EXPECT_EQ(zs::list_directory(dir), std::vector<std::string>{"f"});
  zs::write_file_atomic(dir + "/f", "new");
  EXPECT_EQ(zs::read_text_file(dir + "/f"), "new");
}

TEST(CheckpointIndex, JsonRoundTripAndChecks) {
  zs::CheckpointIndex x;
  x.tag = "global_step3";
  x.world_size = 2;
  x.stage = 2;
  x.precision = "bf16";
  x.optimizer = "AdamW";
  x.optimizer_state_keys = {"exp_avg", "exp_avg_sq"};
  x.counters.global_steps = 3;
  x.counters.optimizer_steps = 3;
  x.loss_scaler = {1024.0, 7, 2, 1};
  x.loss_scaler_enabled = true;
  x.params = {{"w", {2, 3}, {{"rank_0_of_2.safetensors", 0, 4}, {"rank_1_of_2.safetensors", 4, 6}}}};
  x.files = {{"rank_0_of_2.safetensors", 0, 100, 7}, {"rank_1_of_2.safetensors", 1, 90, 4000000000u}};
  x.client_state = {{"iter", 3}};
  const zs::CheckpointIndex y = zs::CheckpointIndex::from_json(x.to_json(), "test");
  EXPECT_EQ(y.to_json(), x.to_json());
  EXPECT_EQ(y.files[1].crc32, 4000000000u);
  EXPECT_EQ(y.loss_scaler.scale, 1024.0);

  nlohmann::json gap = x.to_json();
  gap["parameters"][0]["slices"][1]["begin"] = 5;
  EXPECT_NE(error_of([&] { zs::CheckpointIndex::from_json(gap, "idx"); }).find("slices of w do not cover it"),
            std::string::npos);
  nlohmann::json version = x.to_json();
  version["format_version"] = 99;
  EXPECT_NE(error_of([&] { zs::CheckpointIndex::from_json(version, "idx"); }).find("format version 99"), std::string::npos);
  EXPECT_EQ(zs::shard_file_name(1, 4), "rank_1_of_4.safetensors");

  // Found by fuzzing (fuzz/fuzz_checkpoint_index.cpp): numbers that do not fit their field were
  // undefined behaviour (a float converted to an integer, a shape's element count overflowing),
  // and a non-string "format" escaped as a JSON library exception. Each is a malformed index.
  auto error_with = [&](const char* key, const nlohmann::json& value, const char* pointer = nullptr) {
    nlohmann::json doc = x.to_json();
    doc[nlohmann::json::json_pointer(pointer ? pointer : std::string("/") + key)] = value;
    return error_of([&] { zs::parse_checkpoint_index(doc.dump(), "idx"); });
  };
  EXPECT_NE(error_with("shape", nlohmann::json::array({1.66e81}), "/parameters/0/shape").find("idx is malformed"),
            std::string::npos);
  EXPECT_NE(error_with("shape", nlohmann::json::array({4294967296, 4294967296, 4}), "/parameters/0/shape")
                .find("too many elements"), std::string::npos);
  EXPECT_NE(error_with("shape", nlohmann::json::array({-2, -3}), "/parameters/0/shape").find("negative size"),
            std::string::npos);
  EXPECT_NE(error_with("rank", 1e30, "/files/0/rank").find("rank must be an integer that fits"), std::string::npos);
  EXPECT_NE(error_with("crc32", -1, "/files/0/crc32").find("crc32 must be an integer that fits"), std::string::npos);
  EXPECT_NE(error_with("world_size", 2.5).find("world_size must be an integer"), std::string::npos);
  EXPECT_NE(error_with("format", 1).find("idx is not a ZeroShard checkpoint index"), std::string::npos);
  EXPECT_NE(error_of([&] { zs::parse_checkpoint_index("{\"format\": [", "idx"); }).find("idx is corrupted"),
            std::string::npos);
}

}  // namespace test_ckpt_format
