// A trainer's command line as nanoGPT users write it:
//
//   train_gpt config/train_shakespeare_char.py --batch_size=32 --compile=False --eval_only
//
// Every flag is `--key=value` or `--key value` (dashes in a key read as underscores: --batch-size is
// --batch_size); the same keys can be set by nanoGPT-style config
// files given as positional arguments (config_file.hpp), read in order, and flags override the
// files wherever they stand on the line. A key given twice: the last one wins. Booleans take
// True/False (also true/false, 1/0); a bare `--flag` means True. Values are type-checked (an int
// flag refuses 4.5) and an unknown key or flag is an error with the nearest known name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zs {

struct ConfigLiteral;

class FlagSet {
 public:
  FlagSet(std::string program, std::string description);

  // Registers --name (and the config-file key `name`) writing into `target`; the target's value
  // now is the default shown by --help. `choices` (strings): the accepted values.
  void add(const std::string& name, int64_t& target, const std::string& help);
  void add(const std::string& name, int& target, const std::string& help);
  void add(const std::string& name, double& target, const std::string& help);
  void add(const std::string& name, bool& target, const std::string& help);
  void add(const std::string& name, std::string& target, const std::string& help,
           std::vector<std::string> choices = {});

  // Parses the command line into the targets. Returns an exit code when the program should stop
  // (0 after --help), nothing when it should run. Throws ConfigError for a bad line or file.
  std::optional<int> parse(int argc, const char* const* argv);

  // Whether `name` was set by a config file or a flag (not left at its default).
  bool given(const std::string& name) const;
  // Where the value came from, for messages: "--batch_size", "batch_size (config/x.py:14)";
  // "" for a default.
  std::string origin(const std::string& name) const;
  // The value as text ("64", "0.001", "True", "out"), for messages.
  std::string value_text(const std::string& name) const;
  // The setting as the user wrote it, for messages: "--batch_size=4", "batch_size = 64
  // (config/x.py:14)", "--batch_size=12 (the default)".
  std::string describe(const std::string& name) const;
  const std::vector<std::string>& config_files() const { return config_files_; }
  // Sets `name` from `text` (read as on the command line) on behalf of `origin` ("the checkpoint").
  void set(const std::string& name, const std::string& text, const std::string& origin);
  const std::string& program() const { return program_; }

 private:
  enum class Kind { int64, int32, floating, boolean, string };
  struct Flag {
    std::string name, help, default_text, origin;
    Kind kind;
    void* target;
    std::vector<std::string> choices;
  };
  Flag& add_flag(const std::string& name, Kind kind, void* target, const std::string& help);
  const Flag* find(const std::string& name) const;
  // Sets the flag from a command-line value or a config-file literal; throws ConfigError
  // prefixed with `where`.
  void set_from_text(Flag& flag, const std::string& text, const std::string& where);
  void set_from_literal(Flag& flag, const ConfigLiteral& value, const std::string& where);
  void check_choice(const Flag& flag, const std::string& value, const std::string& where) const;
  std::string suggestion(const std::string& word) const;   // " (did you mean --x?)" or ""
  std::vector<std::string> normalize_booleans(const std::vector<std::string>& args) const;

  std::string program_, description_;
  std::vector<Flag> flags_;
  std::vector<std::string> config_files_;
};

}  // namespace zs
