// Reading helpers for the config layer: a Section reads the keys of one JSON object with their
// types checked, "auto" resolved from the program's AutoValues, and errors that name the key path.
// Internal to src/zs/config (the sections and the tests use it).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "zs/config/config.hpp"

namespace zs::config_detail {

[[noreturn]] void fail(const std::string& message);

// "string \"yes\"", "number 2.5", "array [1,2]": what a value is, for error messages.
std::string describe_json(const nlohmann::json& value);

// The name in `names` closest to `word` by edit distance, or "" when none is close enough to be a
// plausible typo.
std::string closest_name(const std::string& word, const std::vector<std::string>& names);

// Writes a number the way JSON would (0.0003, 500000000), for messages.
std::string number_text(double value);

// "auto" resolution while the sections are read (auto_values.cpp): what the program offers,
// which "auto" keys mean something else when nothing is offered, what each became, and every
// contradiction between the config and a flag the user gave (reported together at the end).
class AutoResolver {
 public:
  explicit AutoResolver(const AutoValues& offered) : offered_(offered) {}

  // Sorts every "auto" in `doc` (before any section is read): offered by the program; in a
  // section DeepSpeed reads through its schema, where "auto" means DeepSpeed's default; in the
  // batch triple, derivable by the batch rule; or none of these: all of those are reported in
  // one ConfigError that says what to set for each.
  // Only keys under `read_keys` (the top-level keys ZeroShard reads) count.
  void classify(const nlohmann::json& doc, const std::vector<std::string>& read_keys);

  const AutoValue* offer(const std::string& path) const;
  // The "auto" at `path` reads as absent (its default applies, or the batch rule derives it).
  bool reads_as_absent(const std::string& path) const { return absent_.count(path) > 0; }
  void record(const std::string& path, const nlohmann::json& value, const std::string& origin);
  void conflict(const std::string& path, const nlohmann::json& config_value, const AutoValue& offered);

  // After reading: the values of "auto" keys that took a default (from the resolved config),
  // into `cfg.autos_resolved` and `doc`; throws one ConfigError listing every contradiction.
  void finish(nlohmann::json& doc, Config& cfg);

 private:
  const AutoValues& offered_;
  std::set<std::string> absent_, defaulted_, recorded_;
  std::vector<AutoResolution> resolved_;
  std::vector<std::string> conflicts_;
};

// Numbers compare by value (1e-3 equals 0.001); arrays element by element.
bool same_value(const nlohmann::json& a, const nlohmann::json& b);

// How a value reads in a message: 0.0003, 500000000, [0.9, 0.95], true, "cpu".
std::string value_text(const nlohmann::json& value);

// One JSON object of the config, at `path` ("zero_optimization.offload_optimizer"; "" for the
// top level). An absent section reads as empty: every getter returns its fallback.
// Reading a key that holds "auto" replaces it, inside the document, by the program's value.
class Section {
 public:
  Section(nlohmann::json* node, std::string path, AutoResolver* autos);

  bool exists() const { return node_ != nullptr; }
  const std::string& path() const { return path_; }
  std::string key_path(const std::string& key) const;

  // The value of `key` with "auto" resolved; nullptr when the key is missing or null.
  const nlohmann::json* find(const std::string& key);
  bool has(const std::string& key) { return find(key) != nullptr; }
  // The key holds "auto" and the program offers no value for it.
  bool is_unresolved_auto(const std::string& key) const;
  // Reads `key`, or its other name `alias` (DeepSpeed accepts both); both given is an error.
  // Returns the name found ("" if neither).
  std::string name_of(const std::string& key, const std::string& alias);
  // Notes what an "auto" at `key` became when the reader derived it (the batch rule).
  void record_auto(const std::string& key, const nlohmann::json& value, const std::string& origin) {
    if (autos_) autos_->record(key_path(key), value, origin);
  }

  bool get_bool(const std::string& key, bool fallback);
  int64_t get_int(const std::string& key, int64_t fallback);   // integral-valued floats accepted
  double get_double(const std::string& key, double fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  std::optional<int64_t> opt_int(const std::string& key);
  std::optional<double> opt_double(const std::string& key);
  std::optional<bool> opt_bool(const std::string& key);
  std::optional<std::string> opt_string(const std::string& key);
  // A fixed-length array of numbers ("betas": [0.9, 0.999]).
  std::vector<double> get_numbers(const std::string& key, const std::vector<double>& fallback);

  // The object at `key`; an absent (or null) one reads as an empty section.
  Section child(const std::string& key);

  // Every key present must be in `known`, else a ConfigError with a "did you mean" suggestion.
  // `owner` adds context to the message ("for WarmupLR").
  void allow_only(const std::vector<std::string>& known, const std::string& owner = "") const;

  // Keys present in the section (sorted).
  std::vector<std::string> keys() const;

 private:
  nlohmann::json* node_;  // nullptr: the config has no such section
  std::string path_;
  AutoResolver* autos_;
};

// A DeepSpeed setting of a feature ZeroShard does not have: accepted at DeepSpeed's default
// `default_value`, refused otherwise (so it is never silently ignored).
void refuse_unless_default(Section& s, const std::string& key, const nlohmann::json& default_value);

// Range checks; each message names the key path and the value found.
void require(bool ok, const std::string& key_path, const std::string& what, const std::string& found);

}  // namespace zs::config_detail
