// Prints the error message ZeroShard gives for each invalid config of tests/bad_configs.hpp, as a
// markdown table ("| # | config | message |") for the release notes. Exits 1 if any config is
// accepted or gives an unexpected message.
#include <iostream>
#include <string>

#include "../bad_configs.hpp"
#include "zs/config/config.hpp"

static std::string table_cell(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

int main() {
  int failures = 0, row = 0;
  std::cout << "| # | config | message |\n|---|---|---|\n";
  for (const auto& bad : zs::config_test::bad_configs()) {
    std::string message;
    try {
      zs::parse_config(bad.json, bad.world_size, bad.autos, "ds_config.json");
      message = "(accepted: expected an error)";
      ++failures;
    } catch (const zs::ConfigError& e) {
      message = e.what();
      if (message.find(bad.expected) == std::string::npos) ++failures;
    }
    std::string config = bad.json.size() > 160 ? bad.json.substr(0, 157) + "..." : bad.json;
    if (bad.world_size != 1) config += " (world size " + std::to_string(bad.world_size) + ")";
    for (const auto& [path, value] : bad.autos)
      config += " (" + value.explicit_flag + " " + (value.shown.empty() ? value.value.dump() : value.shown) + ")";
    std::cout << "| " << ++row << " | `" << table_cell(config) << "` | " << table_cell(message) << " |\n";
  }
  if (failures) std::cerr << failures << " config(s) did not give the expected error\n";
  return failures ? 1 : 0;
}
