#include "zs/monitor/tensorboard_event.hpp"

#include <cstring>

namespace zs {
namespace {

// Protobuf's wire format, as the library writes these messages: fields in number order, proto3
// scalars left out when zero, a oneof member always written.
enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_key(std::string& out, int field, WireType type) { put_varint(out, uint64_t(field) << 3 | type); }

template <typename T>
void put_little_endian(std::string& out, T value) {
  unsigned char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));   // x86-64 and aarch64 are little-endian, as the format
  out.append(reinterpret_cast<const char*>(bytes), sizeof(T));
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}

// Event's fields 1 and 2 (wall_time, step).
std::string event_header(double wall_time, int64_t step) {
  std::string out;
  if (wall_time != 0.0) {
    put_key(out, 1, kFixed64);
    put_little_endian(out, wall_time);
  }
  if (step != 0) {
    put_key(out, 2, kVarint);
    put_varint(out, static_cast<uint64_t>(step));   // a negative int64 takes ten bytes, as in protobuf
  }
  return out;
}

}  // namespace

std::string encode_file_version_event(double wall_time) {
  std::string out = event_header(wall_time, 0);
  put_bytes(out, 3, "brain.Event:2");
  return out;
}

std::string encode_scalars_event(double wall_time, int64_t step, const std::vector<MetricEvent>& metrics) {
  std::string summary;
  for (const MetricEvent& m : metrics) {
    std::string value;
    if (!m.tag.empty()) put_bytes(value, 1, m.tag);
    put_key(value, 2, kFixed32);
    put_little_endian(value, static_cast<float>(m.value));
    put_bytes(summary, 1, value);
  }
  std::string out = event_header(wall_time, step);
  put_bytes(out, 5, summary);
  return out;
}

}  // namespace zs
