// nanoGPT-style config files: `train_gpt config/train_shakespeare_char.py`.
//
// nanoGPT runs such a file as Python; here a small strict reader takes the lines such files hold:
//
//   # comment
//   out_dir = 'out-shakespeare-char'      # strings in '' or ""
//   eval_interval = 250                   # ints (also 600_000 and products such as 5 * 8)
//   learning_rate = 1e-3                  # floats
//   always_save_checkpoint = False        # True / False
//
// Anything else (imports, expressions, indented lines, None) is an error naming the file and line:
// the reader never runs Python. Which keys exist and their types is the FlagSet's business.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zs {

// One Python literal as written in a config file.
struct ConfigLiteral {
  enum class Kind { integer, floating, boolean, string };
  Kind kind = Kind::string;
  int64_t integer = 0;
  double floating = 0.0;   // also set for integers
  bool boolean = false;
  std::string string;
  std::string text;        // the value as written (for messages)
};

// "an int", "a float", "True/False", "a string": for messages.
const char* literal_kind_name(ConfigLiteral::Kind kind);

struct ConfigFileEntry {
  std::string key;
  ConfigLiteral value;
  int line = 0;
};

// The assignments of `text` in file order (a key assigned twice appears twice; the last wins).
// Throws ConfigError "<source>:<line>: <what is wrong>".
std::vector<ConfigFileEntry> parse_config_file(const std::string& text, const std::string& source);
// Reads `path` (a missing file, a directory or a binary file is a ConfigError) and parses it.
std::vector<ConfigFileEntry> read_config_file(const std::string& path);

// One Python literal (the value part of a line). Throws ConfigError with `where` as prefix.
ConfigLiteral parse_literal(const std::string& text, const std::string& where);

}  // namespace zs
