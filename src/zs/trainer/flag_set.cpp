#include "zs/trainer/flag_set.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "zs/config/config.hpp"
#include "zs/config/reader.hpp"
#include "zs/trainer/config_file.hpp"

namespace zs {

namespace {

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool is_bool_word(const std::string& s) {
  return s == "True" || s == "False" || s == "true" || s == "false" || s == "1" || s == "0";
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

FlagSet::FlagSet(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

FlagSet::Flag& FlagSet::add_flag(const std::string& name, Kind kind, void* target, const std::string& help) {
  if (find(name)) throw std::logic_error("flag --" + name + " registered twice");
  flags_.push_back(Flag{name, help, "", "", kind, target, {}});
  flags_.back().default_text = value_text(name);
  return flags_.back();
}

void FlagSet::add(const std::string& name, int64_t& target, const std::string& help) {
  add_flag(name, Kind::int64, &target, help);
}
void FlagSet::add(const std::string& name, int& target, const std::string& help) {
  add_flag(name, Kind::int32, &target, help);
}
void FlagSet::add(const std::string& name, double& target, const std::string& help) {
  add_flag(name, Kind::floating, &target, help);
}
void FlagSet::add(const std::string& name, bool& target, const std::string& help) {
  add_flag(name, Kind::boolean, &target, help);
}
void FlagSet::add(const std::string& name, std::string& target, const std::string& help,
                  std::vector<std::string> choices) {
  add_flag(name, Kind::string, &target, help).choices = std::move(choices);
}

const FlagSet::Flag* FlagSet::find(const std::string& name) const {
  for (const Flag& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}

bool FlagSet::given(const std::string& name) const {
  const Flag* f = find(name);
  return f && !f->origin.empty();
}

std::string FlagSet::origin(const std::string& name) const {
  const Flag* f = find(name);
  return f ? f->origin : std::string();
}

std::string FlagSet::value_text(const std::string& name) const {
  const Flag* f = find(name);
  if (!f) return "";
  switch (f->kind) {
    case Kind::int64: return std::to_string(*static_cast<int64_t*>(f->target));
    case Kind::int32: return std::to_string(*static_cast<int*>(f->target));
    case Kind::floating: return number_text(*static_cast<double*>(f->target));
    case Kind::boolean: return *static_cast<bool*>(f->target) ? "True" : "False";
    case Kind::string: return *static_cast<std::string*>(f->target);
  }
  return "";
}

void FlagSet::set(const std::string& name, const std::string& text, const std::string& origin) {
  Flag* f = const_cast<Flag*>(find(name));
  if (!f) throw std::logic_error("no flag --" + name);
  set_from_text(*f, text, origin + ": " + name + " = " + text);
  f->origin = name + " (" + origin + ")";
}

std::string FlagSet::describe(const std::string& name) const {
  const Flag* f = find(name);
  if (!f) return "--" + name;
  const std::string value = value_text(name);
  if (f->origin.empty()) return "--" + name + "=" + value + " (the default)";
  if (f->origin.rfind("--", 0) == 0) return f->origin + "=" + value;
  // "batch_size (config/x.py:14)" -> "batch_size = 64 (config/x.py:14)"
  const size_t paren = f->origin.find(" (");
  return paren == std::string::npos ? f->origin + " = " + value
                                    : f->origin.substr(0, paren) + " = " + value + f->origin.substr(paren);
}

std::string FlagSet::suggestion(const std::string& word) const {
  std::vector<std::string> names;
  for (const Flag& f : flags_) names.push_back(f.name);
  const std::string best = config_detail::closest_name(word, names);
  return best.empty() ? std::string() : " (did you mean --" + best + "?)";
}

void FlagSet::check_choice(const Flag& flag, const std::string& value, const std::string& where) const {
  if (flag.choices.empty()) return;
  for (const std::string& c : flag.choices)
    if (c == value) return;
  std::string list;
  for (const std::string& c : flag.choices) list += (list.empty() ? "" : ", ") + c;
  const std::string near = config_detail::closest_name(value, flag.choices);
  throw ConfigError(where + ": '" + value + "' is not one of " + list + (near.empty() ? "" : " (did you mean " + near + "?)"));
}

void FlagSet::set_from_literal(Flag& flag, const ConfigLiteral& v, const std::string& where) {
  using K = ConfigLiteral::Kind;
  auto wrong = [&](const char* expected) {
    throw ConfigError(where + ": expected " + std::string(expected) + ", got " + literal_kind_name(v.kind) + " " + v.text);
  };
  switch (flag.kind) {
    case Kind::int64:
    case Kind::int32:
      if (v.kind != K::integer) wrong("an int (a whole number such as 12)");
      if (flag.kind == Kind::int32 && (v.integer < INT_MIN || v.integer > INT_MAX)) wrong("an int that fits 32 bits");
      if (flag.kind == Kind::int64) *static_cast<int64_t*>(flag.target) = v.integer;
      else *static_cast<int*>(flag.target) = int(v.integer);
      break;
    case Kind::floating:
      if (v.kind != K::integer && v.kind != K::floating) wrong("a number (such as 6e-4)");
      *static_cast<double*>(flag.target) = v.floating;
      break;
    case Kind::boolean:
      if (v.kind != K::boolean) wrong("True or False");
      *static_cast<bool*>(flag.target) = v.boolean;
      break;
    case Kind::string:
      if (v.kind != K::string) wrong("a string in quotes");
      check_choice(flag, v.string, where);
      *static_cast<std::string*>(flag.target) = v.string;
      break;
  }
}

void FlagSet::set_from_text(Flag& flag, const std::string& text, const std::string& where) {
  if (flag.kind == Kind::string) {
    check_choice(flag, text, where);
    *static_cast<std::string*>(flag.target) = text;
    return;
  }
  if (flag.kind == Kind::boolean) {
    if (!is_bool_word(text)) throw ConfigError(where + ": expected True or False, got '" + text + "'");
    *static_cast<bool*>(flag.target) = text == "True" || text == "true" || text == "1";
    return;
  }
  if (text.empty()) throw ConfigError(where + ": the value is missing");
  // Numbers read as Python literals, like nanoGPT's configurator does with command-line values.
  ConfigLiteral v;
  try {
    v = parse_literal(text, where);
  } catch (const ConfigError& e) {
    // A number past what its type holds (1e400, 2^70) says so; anything else is not a number.
    const std::string message = e.what();
    if (message.find("out of range") != std::string::npos || message.find("too large") != std::string::npos) throw;
    throw ConfigError(where + ": '" + text + "' is not " +
                      (flag.kind == Kind::floating ? "a number (such as 6e-4)" : "an int (a whole number such as 12)"));
  }
  set_from_literal(flag, v, where);
}

// nanoGPT writes booleans as --flag=True; a bare --flag means True, and `--flag False` (a
// separate word) is read as --flag=False, so that no True/False is taken for a config file.
// An empty string value is passed on as a separate empty word (what CLI11 reads as a value).
std::vector<std::string> FlagSet::normalize_booleans(const std::vector<std::string>& args) const {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    // DeepSpeed's and argparse's dashed names (--batch-size) are the underscored ones (--batch_size).
    std::string a = args[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0 && a[2] != '-')
      std::replace(a.begin() + 2, std::find(a.begin(), a.end(), '='), '-', '_');
    // `--out_dir=` (an empty value, as the shell leaves --out_dir='') becomes `--out_dir ""`.
    const size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq == a.size() - 1) {
      if (find(a.substr(2, eq - 2))) {
        out.push_back(a.substr(0, eq));
        out.push_back("");
        continue;
      }
    }
    const Flag* f = a.rfind("--", 0) == 0 && eq == std::string::npos ? find(a.substr(2)) : nullptr;
    if (f && f->kind == Kind::boolean) {
      if (i + 1 < args.size() && is_bool_word(args[i + 1])) {
        out.push_back(a + "=" + args[++i]);
      } else {
        out.push_back(a + "=True");
      }
      continue;
    }
    out.push_back(a);
  }
  return out;
}

std::optional<int> FlagSet::parse(int argc, const char* const* argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  args = normalize_booleans(args);

  CLI::App app{description_, program_};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.allow_extras();
  std::vector<std::string> raw(flags_.size());
  std::vector<CLI::Option*> options(flags_.size());
  for (size_t i = 0; i < flags_.size(); ++i) {
    const Flag& f = flags_[i];
    static const char* const kTypeNames[] = {"INT", "INT", "FLOAT", "True|False", "TEXT"};
    std::string help = f.help;
    if (!f.choices.empty()) {
      std::string list;
      for (const std::string& c : f.choices) list += (list.empty() ? "" : "|") + c;
      help += (help.empty() ? "" : " ") + std::string("{") + list + "}";
    }
    options[i] = app.add_option("--" + f.name, raw[i], help)
                     ->type_name(kTypeNames[int(f.kind)])
                     ->default_str(f.default_text.empty() ? "''" : f.default_text);
  }
  std::vector<std::string> positional;
  app.add_option("config", positional,
                 "nanoGPT-style config files (`key = value` lines, keys as the flags); flags override them");
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them in reverse
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ArgumentMismatch& e) {
    throw ConfigError(std::string(e.what()) + " (write --key=value)");
  } catch (const CLI::ParseError& e) {
    throw ConfigError(e.what());
  }
  for (const std::string& extra : app.remaining()) {
    const std::string word = extra.substr(0, extra.find('='));
    size_t dashes = 0;
    while (dashes < word.size() && word[dashes] == '-') ++dashes;
    throw ConfigError("unknown flag " + extra + suggestion(word.substr(dashes)) + "; " + program_ + " --help lists them");
  }

  // Config files first, in order; then the flags, wherever they stood.
  config_files_ = positional;
  for (const std::string& path : positional) {
    const size_t eq = path.find('=');
    if (!file_exists(path) && eq != std::string::npos && find(path.substr(0, eq)))
      throw ConfigError("'" + path + "' is not a file; as a flag it is written --" + path);
    if (!file_exists(path) && is_bool_word(path))
      throw ConfigError("'" + path + "' stands alone on the command line; a boolean belongs to its flag: --flag=" + path);
    for (const ConfigFileEntry& e : read_config_file(path)) {
      const std::string where = path + ":" + std::to_string(e.line);
      Flag* f = const_cast<Flag*>(find(e.key));
      if (!f) {
        std::string near = suggestion(e.key);
        if (!near.empty()) near = " (did you mean " + near.substr(near.find("--") + 2);
        throw ConfigError(where + ": unknown key '" + e.key + "'" + near + "; " + program_ + " --help lists the keys");
      }
      set_from_literal(*f, e.value, where + ": " + e.key + " = " + e.value.text);
      f->origin = e.key + " (" + where + ")";
    }
  }
  for (size_t i = 0; i < flags_.size(); ++i) {
    if (options[i]->count() == 0) continue;
    Flag& f = flags_[i];
    set_from_text(f, raw[i], "--" + f.name + "=" + raw[i]);
    f.origin = "--" + f.name;
  }
  return std::nullopt;
}

}  // namespace zs
