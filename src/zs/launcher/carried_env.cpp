#include "zs/launcher/carried_env.hpp"

#include <fstream>
#include <map>
#include <sstream>

#include "zs/launcher/launch_options.hpp"

namespace zs::launcher {
namespace {

bool valid_name(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

void set(EnvPairs& env, const std::string& name, const std::string& value) {
  for (auto& kv : env) {
    if (kv.first == name) {
      kv.second = value;
      return;
    }
  }
  env.emplace_back(name, value);
}

}  // namespace

EnvPairs parse_env_file(const std::string& text, const std::string& path) {
  EnvPairs out;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const size_t eq = line.find('=');
    std::string name = eq == std::string::npos ? "" : line.substr(start, eq - start);
    if (name.rfind("export ", 0) == 0) name = name.substr(7);
    if (eq == std::string::npos || !valid_name(name)) {
      throw UsageError(path + ", line " + std::to_string(number) + ": '" + line +
                       "' is not NAME=VALUE (a .deepspeed_env line sets one variable)");
    }
    set(out, name, line.substr(eq + 1));
  }
  return out;
}

EnvPairs carried_environment(const std::vector<std::string>& base_env, const std::string& home, const std::string& cwd) {
  EnvPairs env;
  std::string file_name = ".deepspeed_env";
  for (const auto& kv : base_env) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = kv.substr(0, eq);
    if (name == "DS_ENV_FILE" && eq + 1 < kv.size()) file_name = kv.substr(eq + 1);
    for (const char* prefix : {"NCCL_", "ZS_", "UCX_", "OMPI_MCA_"}) {
      if (name.rfind(prefix, 0) == 0) set(env, name, kv.substr(eq + 1));
    }
    // A sanitized program's runtime settings, and the libraries preloaded into it: local ranks
    // inherit them, so ranks on other nodes get them too.
    for (const char* exact : {"LD_PRELOAD", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "MSAN_OPTIONS"}) {
      if (name == exact) set(env, name, kv.substr(eq + 1));
    }
  }
  for (auto [name, value] : {std::pair<const char*, const char*>{"NCCL_NVLS_ENABLE", "0"},
                             {"TORCH_SYMM_MEM_DISABLE_MULTICAST", "1"},
                             {"NVSHMEM_DISABLE_NVLS", "1"}}) {
    bool present = false;
    for (const auto& kv : env) present |= kv.first == name;
    if (!present) env.emplace_back(name, value);
  }
  // DeepSpeed reads the home folder's file first, then the working folder's (which wins).
  for (const std::string& dir : {home, cwd}) {
    if (dir.empty()) continue;
    const std::string path = file_name.find('/') == 0 ? file_name : dir + "/" + file_name;
    std::ifstream in(path);
    if (!in) continue;
    std::stringstream text;
    text << in.rdbuf();
    for (const auto& [name, value] : parse_env_file(text.str(), path)) set(env, name, value);
    if (file_name.find('/') == 0) break;  // an absolute DS_ENV_FILE is one file
  }
  return env;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./:=,@%+") ==
                        std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

}  // namespace zs::launcher
