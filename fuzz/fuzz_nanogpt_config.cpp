// libFuzzer target: the reader of nanoGPT-style config files (`train_gpt config/x.py`, lines of
// `key = value` with Python literals) on arbitrary bytes. parse_config_file must return the
// assignments or throw ConfigError (a message naming the file and line); any other exception, a
// crash, a hang, a leak or undefined behaviour is a finding. Every value it returns must read
// again as the same literal (the command line reads `--key=value` through parse_literal too).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "zs/config/config.hpp"
#include "zs/trainer/config_file.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

void check_entry(const zs::ConfigFileEntry& e) {
  zs::ConfigLiteral again;
  try {
    again = zs::parse_literal(e.value.text, "again");
  } catch (const zs::ConfigError& err) {
    finding("a value the file reader accepted does not read again: " + e.value.text + ": " + err.what());
  }
  if (again.kind != e.value.kind) finding("a value reads as another kind the second time: " + e.value.text);
  if (again.kind == zs::ConfigLiteral::Kind::integer && again.integer != e.value.integer)
    finding("an integer reads as another value the second time: " + e.value.text);
  if (e.value.kind == zs::ConfigLiteral::Kind::floating && !std::isfinite(e.value.floating))
    finding("a float that is not finite was accepted: " + e.value.text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const zs::ConfigFileEntry& e : zs::parse_config_file(text, "fuzz.py")) check_entry(e);
  } catch (const zs::ConfigError&) {
    // The expected outcome for a bad file.
  } catch (const std::exception& e) {
    finding(std::string("parse_config_file threw something other than ConfigError: ") + e.what());
  }
  return 0;
}
