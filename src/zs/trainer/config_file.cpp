#include "zs/trainer/config_file.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "zs/config/config.hpp"

namespace zs {

namespace {

constexpr size_t kMaxConfigFileBytes = 1 << 20;
const char* const kNotPython =
    "config files are read as `key = value` lines of Python literals; this reader does not run Python";

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw ConfigError(where + ": " + what); }

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// A cursor over one value's text.
class LiteralParser {
 public:
  LiteralParser(const std::string& text, std::string where) : s_(text), where_(std::move(where)) {}

  ConfigLiteral parse() {
    skip_spaces();
    if (at_end()) fail(where_, "no value after '='");
    ConfigLiteral value = term();
    skip_spaces();
    // nanoGPT's own configs write products such as `gradient_accumulation_steps = 5 * 8`.
    while (!at_end() && s_[i_] == '*' && !(i_ + 1 < s_.size() && s_[i_ + 1] == '*')) {
      ++i_;
      skip_spaces();
      const ConfigLiteral rhs = term();
      if (!is_number(value) || !is_number(rhs))
        fail(where_, "only numbers can be multiplied (in '" + trimmed() + "')");
      value = multiply(value, rhs);
      skip_spaces();
    }
    if (!at_end() && s_[i_] != '#')
      fail(where_, "unexpected '" + s_.substr(i_) + "' after the value " + value.text + " (" + kNotPython + ")");
    value.text = trimmed_value();
    return value;
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  void skip_spaces() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  std::string trimmed() const {
    size_t b = s_.find_first_not_of(" \t"), e = s_.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s_.substr(b, e - b + 1);
  }
  // The value part without a trailing comment (the cursor ended before it).
  std::string trimmed_value() const {
    std::string v = s_.substr(0, i_);
    size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
  }
  static bool is_number(const ConfigLiteral& v) {
    return v.kind == ConfigLiteral::Kind::integer || v.kind == ConfigLiteral::Kind::floating;
  }
  ConfigLiteral multiply(const ConfigLiteral& a, const ConfigLiteral& b) const {
    ConfigLiteral r;
    if (a.kind == ConfigLiteral::Kind::integer && b.kind == ConfigLiteral::Kind::integer) {
      if (__builtin_mul_overflow(a.integer, b.integer, &r.integer)) fail(where_, "the product is too large");
      r.kind = ConfigLiteral::Kind::integer;
      r.floating = double(r.integer);
    } else {
      r.kind = ConfigLiteral::Kind::floating;
      r.floating = a.floating * b.floating;
      if (!std::isfinite(r.floating)) fail(where_, "the product is out of range");
    }
    return r;
  }

  ConfigLiteral term() {
    if (at_end()) fail(where_, "a value is missing after '*'");
    const char c = s_[i_];
    if (c == '\'' || c == '"') return string_literal();
    if (c == '-' || c == '+' || c == '.' || is_digit(c)) return number();
    if (is_ident_start(c)) {
      size_t j = i_;
      while (j < s_.size() && is_ident_char(s_[j])) ++j;
      const std::string word = s_.substr(i_, j - i_);
      if (j < s_.size() && (s_[j] == '\'' || s_[j] == '"'))
        fail(where_, "string prefixes such as " + word + "'...' are not read; write a plain '...' string");
      i_ = j;
      ConfigLiteral v;
      v.kind = ConfigLiteral::Kind::boolean;
      v.text = word;
      if (word == "True") return v.boolean = true, v;
      if (word == "False") return v.boolean = false, v;
      if (word == "true" || word == "false")
        fail(where_, word + " is not Python: write " + (word == "true" ? "True" : "False"));
      if (word == "None") fail(where_, "None is not a value here; leave the line out to keep the default");
      fail(where_, "'" + word + "' is not a literal (strings need quotes: '" + word + "'); " + kNotPython);
    }
    fail(where_, "'" + s_.substr(i_) + "' is not a literal; " + kNotPython);
  }

  ConfigLiteral string_literal() {
    const char quote = s_[i_];
    if (s_.compare(i_, 3, std::string(3, quote)) == 0) fail(where_, "triple-quoted strings are not read");
    ConfigLiteral v;
    v.kind = ConfigLiteral::Kind::string;
    size_t j = i_ + 1;
    for (;; ++j) {
      if (j >= s_.size()) fail(where_, "the string " + s_.substr(i_) + " has no closing " + std::string(1, quote));
      const char c = s_[j];
      if (c == quote) break;
      if (c != '\\') {
        v.string += c;
        continue;
      }
      if (++j >= s_.size()) fail(where_, "the string " + s_.substr(i_) + " ends in a backslash");
      switch (s_[j]) {
        case 'n': v.string += '\n'; break;
        case 't': v.string += '\t'; break;
        case '\\': v.string += '\\'; break;
        case '\'': v.string += '\''; break;
        case '"': v.string += '"'; break;
        default: fail(where_, std::string("the escape \\") + s_[j] + " is not read (only \\n \\t \\\\ \\' \\\")");
      }
    }
    v.text = s_.substr(i_, j + 1 - i_);
    i_ = j + 1;
    return v;
  }

  // Python number literals: 12, -1, 600_000, 6e-4, 1.5, .5, 5.
  ConfigLiteral number() {
    const size_t start = i_;
    bool negative = false;
    while (!at_end() && (s_[i_] == '-' || s_[i_] == '+')) {
      negative = negative != (s_[i_] == '-');
      ++i_;
      skip_spaces();
    }
    std::string digits;  // without underscores
    bool is_float = false, any_digit = false;
    auto run = [&](bool required) {
      bool last_underscore = false, seen = false;
      while (!at_end() && (is_digit(s_[i_]) || s_[i_] == '_')) {
        if (s_[i_] == '_' && (!seen || last_underscore)) fail(where_, "misplaced '_' in the number " + s_.substr(start));
        last_underscore = s_[i_] == '_';
        if (!last_underscore) digits += s_[i_], seen = true;
        ++i_;
      }
      if (last_underscore) fail(where_, "misplaced '_' in the number " + s_.substr(start));
      if (required && !seen) fail(where_, "'" + s_.substr(start) + "' is not a number");
      any_digit = any_digit || seen;
    };
    const size_t int_begin = i_;
    run(false);
    if (i_ - int_begin > 1 && s_[int_begin] == '0' && (at_end() || (s_[i_] != '.' && s_[i_] != 'e' && s_[i_] != 'E'))) {
      bool all_zero = digits.find_first_not_of('0') == std::string::npos;
      if (!all_zero) fail(where_, "'" + s_.substr(start) + "': Python does not allow leading zeros in an int");
    }
    if (!at_end() && s_[i_] == '.') {
      is_float = true;
      digits += '.';
      ++i_;
      run(false);
    }
    if (!any_digit) fail(where_, "'" + s_.substr(start) + "' is not a number");
    if (!at_end() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      is_float = true;
      digits += 'e';
      ++i_;
      if (!at_end() && (s_[i_] == '-' || s_[i_] == '+')) digits += s_[i_++];
      run(true);
    }
    if (!at_end() && (is_ident_char(s_[i_]) || s_[i_] == '.'))
      fail(where_, "'" + s_.substr(start) + "' is not a number");
    ConfigLiteral v;
    v.text = s_.substr(start, i_ - start);
    errno = 0;
    if (is_float) {
      v.kind = ConfigLiteral::Kind::floating;
      v.floating = std::strtod(digits.c_str(), nullptr);
      if (errno == ERANGE || !std::isfinite(v.floating)) fail(where_, "the number " + v.text + " is out of range");
      if (negative) v.floating = -v.floating;
    } else {
      v.kind = ConfigLiteral::Kind::integer;
      const unsigned long long u = std::strtoull(digits.c_str(), nullptr, 10);
      if (errno == ERANGE || u > (unsigned long long)INT64_MAX) fail(where_, "the number " + v.text + " is too large");
      v.integer = negative ? -int64_t(u) : int64_t(u);
      v.floating = double(v.integer);
    }
    return v;
  }

  const std::string& s_;
  std::string where_;
  size_t i_ = 0;
};

}  // namespace

const char* literal_kind_name(ConfigLiteral::Kind kind) {
  switch (kind) {
    case ConfigLiteral::Kind::integer: return "an int";
    case ConfigLiteral::Kind::floating: return "a float";
    case ConfigLiteral::Kind::boolean: return "True/False";
    case ConfigLiteral::Kind::string: return "a string";
  }
  return "?";
}

ConfigLiteral parse_literal(const std::string& text, const std::string& where) {
  return LiteralParser(text, where).parse();
}

std::vector<ConfigFileEntry> parse_config_file(const std::string& text, const std::string& source) {
  std::vector<ConfigFileEntry> entries;
  // Editors on Windows start UTF-8 files with a byte order mark; it is not part of the first key.
  const bool bom = text.compare(0, 3, "\xEF\xBB\xBF") == 0;
  std::istringstream in(bom ? text.substr(3) : text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = source + ":" + std::to_string(number);
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    if (first != 0) fail(where, "indented line '" + line + "' (" + kNotPython + ")");
    size_t i = 0;
    while (i < line.size() && is_ident_char(line[i])) ++i;
    const std::string key = line.substr(0, i);
    if (key.empty() || !is_ident_start(key[0]))
      fail(where, "'" + line + "' is not a `key = value` line (" + kNotPython + ")");
    size_t j = line.find_first_not_of(" \t", i);
    if (j == std::string::npos || line[j] != '=' || (j + 1 < line.size() && line[j + 1] == '=')) {
      if (key == "import" || key == "from" || key == "exec" || key == "if" || key == "for")
        fail(where, "'" + line + "': " + kNotPython);
      fail(where, "'" + line + "' is not a `key = value` line (" + kNotPython + ")");
    }
    ConfigFileEntry e;
    e.key = key;
    e.line = number;
    e.value = parse_literal(line.substr(j + 1), where + ": " + key);
    entries.push_back(std::move(e));
  }
  return entries;
}

std::vector<ConfigFileEntry> read_config_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw ConfigError("config file '" + path + "' does not exist");
  if (S_ISDIR(st.st_mode)) throw ConfigError("config file '" + path + "' is a directory");
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0)
    throw ConfigError("'" + path + "' looks like a DeepSpeed JSON config; pass it as --deepspeed_config=" + path +
                      " (a positional argument is a nanoGPT-style `key = value` file)");
  if (st.st_size > static_cast<off_t>(kMaxConfigFileBytes))
    throw ConfigError("config file '" + path + "' is " + std::to_string(st.st_size) +
                      " bytes; a `key = value` config file is expected (at most 1 MiB)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read config file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  if (text.find('\0') != std::string::npos) throw ConfigError("config file '" + path + "' is not a text file");
  return parse_config_file(text, path);
}

}  // namespace zs
