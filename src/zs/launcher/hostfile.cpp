#include "zs/launcher/hostfile.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "zs/launcher/launch_options.hpp"

namespace zs::launcher {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool parse_nonnegative(const std::string& text, int max_value, int* out) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  *out = std::atoi(text.c_str());
  return *out <= max_value;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

const HostSlots* find_host(const Resources& r, const std::string& host) {
  for (const auto& h : r) {
    if (h.host == host) return &h;
  }
  return nullptr;
}

std::string host_list(const Resources& r) {
  std::string s;
  for (const auto& h : r) s += (s.empty() ? "" : ", ") + h.host;
  return s;
}

// "node1:0,2" -> ("node1", {0, 2}, true); "node1" -> ("node1", {}, false).
struct NodeSpec {
  std::string host;
  std::vector<int> slots;
  bool has_slots = false;
};

std::vector<NodeSpec> parse_node_specs(const std::string& flag, const std::string& text) {
  std::vector<NodeSpec> specs;
  for (const std::string& item : split(text, '@')) {
    NodeSpec spec;
    const size_t colon = item.find(':');
    spec.host = item.substr(0, colon);
    if (spec.host.empty()) throw UsageError(flag + " '" + text + "': a node spec without a host name");
    if (colon != std::string::npos) {
      spec.has_slots = true;
      for (const std::string& slot : split(item.substr(colon + 1), ',')) {
        int id = 0;
        if (!parse_nonnegative(slot, 1 << 20, &id)) {
          throw UsageError(flag + " '" + text + "': '" + slot + "' is not a slot number (write host:0,2)");
        }
        spec.slots.push_back(id);
      }
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace

Resources parse_hostfile(const std::string& text, const std::string& path) {
  Resources r;
  std::istringstream in(text);
  std::string raw;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    const std::string where = "hostfile " + path + ", line " + std::to_string(number) + ": ";
    std::string line = trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    std::istringstream words(line);
    std::string host, slots_word, extra;
    words >> host >> slots_word >> extra;
    if (slots_word.empty()) {
      throw UsageError(where + "'" + line + "' has no slots=N (write it as '" + host + " slots=8')");
    }
    int slots = 0;
    if (slots_word.rfind("slots=", 0) != 0 || !parse_nonnegative(slots_word.substr(6), 1 << 16, &slots) || slots == 0) {
      throw UsageError(where + "'" + line + "': want 'HOST slots=N' with N a whole number from 1");
    }
    if (!extra.empty()) throw UsageError(where + "'" + line + "': unexpected '" + extra + "' after slots=N");
    if (find_host(r, host)) throw UsageError(where + "host '" + host + "' is listed twice");
    HostSlots h{host, {}};
    for (int s = 0; s < slots; ++s) h.slots.push_back(s);
    r.push_back(std::move(h));
  }
  if (r.empty()) throw UsageError("hostfile " + path + " lists no host (lines like 'node1 slots=8')");
  return r;
}

Resources read_hostfile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw UsageError("cannot read the hostfile " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw UsageError("cannot read the hostfile " + path + ": not a file");
  if (st.st_size > (1 << 24)) throw UsageError("cannot read the hostfile " + path + ": over 16 MiB, not a hostfile");
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read the hostfile " + path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return parse_hostfile(text.str(), path);
}

Resources filter_resources(const Resources& all, const std::string& include, const std::string& exclude) {
  if (!include.empty() && !exclude.empty()) throw UsageError("--include and --exclude exclude each other: pick one");
  if (include.empty() && exclude.empty()) return all;
  const std::string flag = include.empty() ? "--exclude" : "--include";
  const std::string& text = include.empty() ? exclude : include;
  std::vector<std::set<int>> chosen(all.size());  // per host of `all`
  if (!exclude.empty()) {
    for (size_t i = 0; i < all.size(); ++i) chosen[i].insert(all[i].slots.begin(), all[i].slots.end());
  }
  for (const NodeSpec& spec : parse_node_specs(flag, text)) {
    const HostSlots* h = find_host(all, spec.host);
    if (!h) {
      throw UsageError(flag + " names host '" + spec.host + "', which is not in the hostfile (hosts: " + host_list(all) +
                       ")");
    }
    std::set<int>& set = chosen[static_cast<size_t>(h - all.data())];
    if (!spec.has_slots) {
      if (include.empty()) set.clear();
      else set.insert(h->slots.begin(), h->slots.end());
      continue;
    }
    for (int slot : spec.slots) {
      if (!std::count(h->slots.begin(), h->slots.end(), slot)) {
        throw UsageError(flag + " names slot " + std::to_string(slot) + " of host '" + spec.host + "', which has " +
                         std::to_string(h->slots.size()) + " (slots 0.." + std::to_string(h->slots.size() - 1) + ")");
      }
      if (include.empty()) set.erase(slot);
      else set.insert(slot);
    }
  }
  Resources out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (!chosen[i].empty()) out.push_back({all[i].host, std::vector<int>(chosen[i].begin(), chosen[i].end())});
  }
  if (out.empty()) throw UsageError(flag + " '" + text + "' leaves no slot to run on");
  return out;
}

Resources limit_resources(const Resources& r, int num_nodes, int per_node, const std::string& per_node_flag) {
  Resources out = r;
  if (num_nodes > 0) {
    if (num_nodes > static_cast<int>(r.size())) {
      throw UsageError("--num_nodes " + std::to_string(num_nodes) + " but the hostfile has " +
                       std::to_string(r.size()) + " host(s): " + host_list(r));
    }
    out.resize(static_cast<size_t>(num_nodes));
  }
  if (per_node > 0) {
    for (auto& h : out) {
      if (per_node > static_cast<int>(h.slots.size())) {
        throw UsageError(per_node_flag + " " + std::to_string(per_node) + " but host '" + h.host + "' has slots=" +
                         std::to_string(h.slots.size()) + " in the hostfile");
      }
      h.slots.resize(static_cast<size_t>(per_node));
    }
  }
  return out;
}

std::string encode_resources(const Resources& r) {
  std::string s;
  for (const auto& h : r) {
    s += (s.empty() ? "" : "@") + h.host + ":";
    for (size_t i = 0; i < h.slots.size(); ++i) s += (i ? "," : "") + std::to_string(h.slots[i]);
  }
  return s;
}

Resources decode_resources(const std::string& text) {
  Resources r;
  for (const NodeSpec& spec : parse_node_specs("--world_info", text)) {
    if (!spec.has_slots) throw UsageError("--world_info '" + text + "': host '" + spec.host + "' has no slots");
    r.push_back({spec.host, spec.slots});
  }
  return r;
}

int total_slots(const Resources& r) {
  int n = 0;
  for (const auto& h : r) n += static_cast<int>(h.slots.size());
  return n;
}

int first_rank_of(const Resources& r, int node) {
  int n = 0;
  for (int i = 0; i < node; ++i) n += static_cast<int>(r[static_cast<size_t>(i)].slots.size());
  return n;
}

}  // namespace zs::launcher
