// Config files: size, type and encoding checks, then JSON parsing with DeepSpeed's leniencies
// (comments, trailing commas) and its strictness (no duplicate keys), with a nesting limit.
#include "zs/config/config_json.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "zs/config/config.hpp"
#include "zs/config/reader.hpp"

namespace zs {

using config_detail::fail;   // throws ConfigError
using nlohmann::json;

namespace {

std::string line_column(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') ++line, column = 1;
    else ++column;
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

std::string hex_byte(unsigned char byte) {
  static const char* digits = "0123456789ABCDEF";
  return std::string("0x") + digits[byte >> 4] + digits[byte & 15];
}

// Offset of the first byte that makes `text` not UTF-8 text (a NUL counts), or npos.
size_t first_non_text_byte(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c == 0) return i;
    if (c < 0x80) { ++i; continue; }
    size_t extra;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) extra = 1, min = 0x80;
    else if ((c & 0xF0) == 0xE0) extra = 2, min = 0x800;
    else if ((c & 0xF8) == 0xF0) extra = 3, min = 0x10000;
    else return i;
    uint32_t code = c & (0x3F >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      if (i + k >= n || (s[i + k] & 0xC0) != 0x80) return i;
      code = (code << 6) | (s[i + k] & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += extra + 1;
  }
  return std::string::npos;
}

// Blanks each comma that is followed only by whitespace or comments and then '}' or ']', as
// DeepSpeed's HJSON loader accepts. Offsets stay the same, so parse errors keep their positions.
std::string without_trailing_commas(std::string text) {
  const size_t n = text.size();
  size_t comma = std::string::npos;  // a comma whose next significant character is not yet seen
  char before_comma = 0;             // the significant character before that comma
  char last = 0;                     // the last significant character
  for (size_t i = 0; i < n; ++i) {
    const char c = text[i];
    if (c == '"') {
      for (++i; i < n && text[i] != '"'; ++i)
        if (text[i] == '\\') ++i;
      comma = std::string::npos;
      last = '"';
      continue;
    }
    if (c == '/' && i + 1 < n && text[i + 1] == '/') {
      while (i < n && text[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && text[i + 1] == '*') {
      const size_t end = text.find("*/", i + 2);
      i = end == std::string::npos ? n : end + 1;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if ((c == '}' || c == ']') && comma != std::string::npos && before_comma != ',' && before_comma != '{' &&
        before_comma != '[' && before_comma != ':')
      text[comma] = ' ';
    comma = std::string::npos;
    if (c == ',') comma = i, before_comma = last;
    last = c;
  }
  return text;
}

// Builds the document while checking nesting depth and duplicate keys, with the key path of
// where the parser is for the messages.
class DocumentChecks {
 public:
  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxConfigNesting)
          fail("the config nests deeper than " + std::to_string(kMaxConfigNesting) + " levels of {} and [] (at " +
               where() + "); a DeepSpeed config needs 4");
        next_element();
        frames_.push_back({event == json::parse_event_t::object_start, {}, "", -1});
        break;
      case json::parse_event_t::key: {
        Frame& f = frames_.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second)
          fail(where() + " is given twice in one object; DeepSpeed refuses duplicate keys too: keep one");
        break;
      }
      case json::parse_event_t::value:
        next_element();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;  // object: the key being read
    int64_t index;    // array: the element being read
  };

  void next_element() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }

  std::string where() const {
    std::string path;
    for (const Frame& f : frames_) {
      if (f.object) path += (path.empty() ? "" : ".") + f.key;
      else path += "[" + std::to_string(f.index) + "]";
    }
    return path.empty() ? "the top level" : path;
  }

  std::vector<Frame> frames_;
};

}  // namespace

std::string read_config_text(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || status.type() == std::filesystem::file_type::not_found)
    fail("cannot open config file " + path + ": " +
         (ec ? ec.message() : std::string(std::strerror(ENOENT))));
  if (status.type() == std::filesystem::file_type::directory)
    fail("config file " + path + " is a directory; give the path of the JSON file");
  if (status.type() == std::filesystem::file_type::regular) {
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec && int64_t(size) > kMaxConfigFileBytes)
      fail("config file " + path + " is " + std::to_string(size >> 20) + " MiB; a config may be at most " +
           std::to_string(kMaxConfigFileBytes >> 20) + " MiB (a DeepSpeed config is a few KB)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open config file " + path + ": " + std::strerror(errno));
  // Read at most one byte past the limit (pipes and devices have no size to check first).
  std::string text;
  std::vector<char> chunk(1 << 16);
  while (in && int64_t(text.size()) <= kMaxConfigFileBytes) {
    in.read(chunk.data(), std::streamsize(chunk.size()));
    text.append(chunk.data(), size_t(in.gcount()));
  }
  if (in.bad()) fail("cannot read config file " + path + ": " + std::strerror(errno));
  if (int64_t(text.size()) > kMaxConfigFileBytes)
    fail("config file " + path + " is larger than " + std::to_string(kMaxConfigFileBytes >> 20) +
         " MiB, the most a config may be (a DeepSpeed config is a few KB)");
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) fail("config file " + path + " is empty");
  const size_t bad = first_non_text_byte(text);
  if (bad != std::string::npos)
    fail("config file " + path + " is not a text file: byte " +
         hex_byte(static_cast<unsigned char>(text[bad])) + " at " + line_column(text, bad) +
         " is not UTF-8 text (is it the right file?)");
  return text;
}

json parse_config_json(const std::string& text) {
  if (int64_t(text.size()) > kMaxConfigFileBytes)
    fail("the config is larger than " + std::to_string(kMaxConfigFileBytes >> 20) + " MiB, the most a config may be");
  const size_t bad = first_non_text_byte(text);
  if (bad != std::string::npos)
    fail("the config is not text: byte " + hex_byte(static_cast<unsigned char>(text[bad])) + " at " +
         line_column(text, bad) + " is not UTF-8 text");
  DocumentChecks checks;
  try {
    return json::parse(without_trailing_commas(text), std::ref(checks), /*allow_exceptions=*/true,
                       /*ignore_comments=*/true);
  } catch (const json::out_of_range& e) {
    // A number beyond what a double holds (1e400): what() names the number, not where it is.
    std::string what = e.what();
    const size_t open = what.find('\''), close = what.rfind('\'');
    std::string number = open != std::string::npos && close > open ? what.substr(open + 1, close - open - 1) : "";
    if (number.size() > 40) number = number.substr(0, 37) + "...";
    const size_t at = number.empty() ? std::string::npos : text.find(number);
    fail("invalid JSON: the number " + number + (at == std::string::npos ? "" : " at " + line_column(text, at)) +
         " is out of range (a number in a config lies within +-1.8e308)");
  } catch (const json::exception& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    std::string what = e.what();
    const auto start = what.find("] ");
    if (start != std::string::npos) what = what.substr(start + 2);
    if (what.size() > 300) what = what.substr(0, 297) + "...";
    // Two values in a row: DeepSpeed's HJSON loader takes a line break as the comma.
    if (what.find("unexpected string literal; expected '}'") != std::string::npos ||
        what.find("; expected ']'") != std::string::npos)
      what += " (a comma missing before it? DeepSpeed's HJSON loader lets a line break stand for a comma; JSON "
              "does not)";
    fail("invalid JSON: " + what);
  }
}

json load_config_json(const std::string& path) {
  const std::string text = read_config_text(path);
  try {
    return parse_config_json(text);
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
}

}  // namespace zs
