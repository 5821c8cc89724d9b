// Typed, path-aware reading of config sections, "auto" resolution and typo suggestions.
#include "zs/config/reader.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "zs/base/strings.hpp"

namespace zs::config_detail {

using nlohmann::json;

void fail(const std::string& message) { throw ConfigError(message); }

std::string number_text(double value) {
  // Whole numbers print without ".0", as users write them (0, -1, 500000000).
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15)
    return std::to_string(int64_t(value));
  return json(value).dump();
}

std::string value_text(const json& value) {
  if (value.is_number()) return number_text(value.get<double>());
  if (value.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i) out += (i ? ", " : "") + value_text(value[i]);
    return out + "]";
  }
  return value.dump();
}

std::string describe_json(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  if (value.is_boolean()) return "boolean " + text;
  if (value.is_number()) return "number " + text;
  if (value.is_string()) return "string " + text;
  if (value.is_array()) return "array " + text;
  if (value.is_object()) return "object " + text;
  return text;  // null
}

std::string closest_name(const std::string& word, const std::vector<std::string>& names) {
  // A typo changes a few characters; beyond a third of the word it is a different name.
  size_t limit = std::max<size_t>(1, std::min<size_t>(4, word.size() / 3));
  std::string best;
  size_t best_distance = limit + 1;
  for (const auto& name : names) {
    size_t d = edit_distance(word, name);
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  return best;
}

void require(bool ok, const std::string& key_path, const std::string& what, const std::string& found) {
  if (!ok) fail(key_path + " must be " + what + ", got " + found);
}

// Numbers compare by value (1e-3 equals 0.001); arrays element by element.
bool same_value(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_value(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

Section::Section(json* node, std::string path, AutoResolver* autos)
    : node_(node), path_(std::move(path)), autos_(autos) {}

std::string Section::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

static bool is_auto(const json& v) { return v.is_string() && v.get<std::string>() == "auto"; }

bool Section::is_unresolved_auto(const std::string& key) const {
  if (!node_) return false;
  auto it = node_->find(key);
  if (it == node_->end() || !is_auto(*it)) return false;
  return !autos_ || !autos_->offer(key_path(key));
}

std::string Section::name_of(const std::string& key, const std::string& alias) {
  const bool has_key = has(key), has_alias = has(alias);
  if (has_key && has_alias)
    fail(key_path(key) + " and " + key_path(alias) + " are the same setting under two names; keep one");
  return has_key ? key : has_alias ? alias : "";
}

const json* Section::find(const std::string& key) {
  if (!node_) return nullptr;
  auto it = node_->find(key);
  if (it == node_->end() || it->is_null()) return nullptr;
  const std::string path = key_path(key);
  const AutoValue* offered = autos_ ? autos_->offer(path) : nullptr;
  if (is_auto(*it)) {
    if (offered) {
      *it = offered->value;  // the resolved document keeps the value used
      autos_->record(path, offered->value,
                     !offered->explicit_flag.empty() ? offered->explicit_flag
                     : !offered->origin.empty()      ? offered->origin
                                                     : "the program's default");
      return it->is_null() ? nullptr : &*it;
    }
    if (autos_ && autos_->reads_as_absent(path)) return nullptr;
    fail(path + " is \"auto\" but this program has no value for it; set it in the config");
  }
  if (offered && !offered->explicit_flag.empty() && !same_value(*it, offered->value))
    autos_->conflict(path, *it, *offered);
  return &*it;
}

bool Section::get_bool(const std::string& key, bool fallback) {
  return opt_bool(key).value_or(fallback);
}
int64_t Section::get_int(const std::string& key, int64_t fallback) {
  return opt_int(key).value_or(fallback);
}
double Section::get_double(const std::string& key, double fallback) {
  return opt_double(key).value_or(fallback);
}
std::string Section::get_string(const std::string& key, const std::string& fallback) {
  return opt_string(key).value_or(fallback);
}

std::optional<bool> Section::opt_bool(const std::string& key) {
  const json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) fail(key_path(key) + " must be a boolean, got " + describe_json(*v));
  return v->get<bool>();
}

std::optional<int64_t> Section::opt_int(const std::string& key) {
  const json* v = find(key);
  if (!v) return std::nullopt;
  // Every integer of a DeepSpeed config is a count or a size; beyond 2^53 (where doubles stop
  // holding every integer) none means anything, and products of such values would overflow.
  constexpr int64_t kLimit = int64_t(1) << 53;
  const auto out_of_range = [&] {
    fail(key_path(key) + " " + v->dump() + " is out of range: integers in a config lie within +-2^53 (" +
         std::to_string(kLimit) + ")");
  };
  if (v->is_number_unsigned()) {
    if (v->get<uint64_t>() > uint64_t(kLimit)) out_of_range();
    return int64_t(v->get<uint64_t>());
  }
  if (v->is_number_integer()) {
    const int64_t i = v->get<int64_t>();
    if (i > kLimit || i < -kLimit) out_of_range();
    return i;
  }
  if (v->is_number_float()) {
    // Sizes are often written as 5e8; any float with an integral value is accepted.
    const double d = v->get<double>();
    if (!std::isfinite(d) || d != std::floor(d))
      fail(key_path(key) + " must be an integer, got " + describe_json(*v));
    if (std::fabs(d) > double(kLimit)) out_of_range();
    return int64_t(d);
  }
  fail(key_path(key) + " must be an integer, got " + describe_json(*v));
}

std::optional<double> Section::opt_double(const std::string& key) {
  const json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) fail(key_path(key) + " must be a number, got " + describe_json(*v));
  return v->get<double>();
}

std::optional<std::string> Section::opt_string(const std::string& key) {
  const json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) fail(key_path(key) + " must be a string, got " + describe_json(*v));
  return v->get<std::string>();
}

std::vector<double> Section::get_numbers(const std::string& key, const std::vector<double>& fallback) {
  const json* v = find(key);
  if (!v) return fallback;
  std::ostringstream want;
  want << "an array of " << fallback.size() << " numbers";
  bool ok = v->is_array() && v->size() == fallback.size();
  for (size_t i = 0; ok && i < v->size(); ++i) ok = (*v)[i].is_number();
  if (!ok) fail(key_path(key) + " must be " + want.str() + ", got " + describe_json(*v));
  std::vector<double> out;
  for (const auto& x : *v) out.push_back(x.get<double>());
  return out;
}

Section Section::child(const std::string& key) {
  const json* v = find(key);
  if (!v) return Section(nullptr, key_path(key), autos_);
  if (!v->is_object()) fail(key_path(key) + " must be an object, got " + describe_json(*v));
  return Section(&(*node_)[key], key_path(key), autos_);
}

void Section::allow_only(const std::vector<std::string>& known, const std::string& owner) const {
  if (!node_) return;
  for (const auto& item : node_->items()) {
    if (std::find(known.begin(), known.end(), item.key()) != known.end()) continue;
    std::string message = key_path(item.key()) + ": unknown key";
    if (!owner.empty()) message += " " + owner;
    std::string suggestion = closest_name(item.key(), known);
    if (!suggestion.empty()) {
      message += "; did you mean \"" + suggestion + "\"?";
    } else {
      message += " (known keys: ";
      for (size_t i = 0; i < known.size(); ++i) message += (i ? ", " : "") + known[i];
      message += ")";
    }
    fail(message);
  }
}

void refuse_unless_default(Section& s, const std::string& key, const json& default_value) {
  const json* v = s.find(key);
  if (!v) return;
  const bool same = (v->is_number() && default_value.is_number()) ? v->get<double>() == default_value.get<double>()
                                                                   : *v == default_value;
  if (!same)
    fail(s.key_path(key) + " " + value_text(*v) + ": a DeepSpeed setting ZeroShard does not have; remove it" +
         (default_value.is_null() ? "" : " or set it to " + value_text(default_value)));
}

std::vector<std::string> Section::keys() const {
  std::vector<std::string> out;
  if (node_)
    for (const auto& item : node_->items()) out.push_back(item.key());
  return out;
}

}  // namespace zs::config_detail
