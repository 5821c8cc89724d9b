// Reading helpers for the config layer: a Section reads the keys of one JSON object with their
// types checked, "auto" resolved from the program's AutoValues, and errors that name the key path.
// Internal to src/zs/config (the sections and the tests use it).
#pragma once

#include <cstdint>
#include <optional>
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
size_t edit_distance(const std::string& a, const std::string& b);

// Writes a number the way JSON would (0.0003, 500000000), for messages.
std::string number_text(double value);

// One JSON object of the config, at `path` ("zero_optimization.offload_optimizer"; "" for the
// top level). An absent section reads as empty: every getter returns its fallback.
// Reading a key that holds "auto" replaces it, inside the document, by the program's value.
class Section {
 public:
  Section(nlohmann::json* node, std::string path, const AutoValues* autos);

  bool exists() const { return node_ != nullptr; }
  const std::string& path() const { return path_; }
  std::string key_path(const std::string& key) const;

  // The value of `key` with "auto" resolved; nullptr when the key is missing or null.
  const nlohmann::json* find(const std::string& key);
  bool has(const std::string& key) { return find(key) != nullptr; }
  // The key holds "auto" and the program offers no value for it (find() would throw).
  bool is_unresolved_auto(const std::string& key) const;

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
  const AutoValues* autos_;
};

// Range checks; each message names the key path and the value found.
void require(bool ok, const std::string& key_path, const std::string& what, const std::string& found);

}  // namespace zs::config_detail
