// Reading a DeepSpeed config file into a JSON document, defensively.
//
// A config is a few kilobytes of JSON nested four levels deep. What is not (a directory, an
// unreadable or empty file, binary data, a file of hundreds of megabytes, thousands of nested
// brackets) is refused with a message that names the file and the limit, before anything is
// parsed or built from it. The JSON is read as DeepSpeed reads it: // and /* */ comments and
// trailing commas are accepted (DeepSpeed's loader is HJSON), and a key given twice in one object
// is an error naming the key path (DeepSpeed's loader rejects duplicate keys too).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace zs {

inline constexpr int64_t kMaxConfigFileBytes = int64_t(16) << 20;  // 16 MiB
inline constexpr int kMaxConfigNesting = 64;                       // levels of {} and []

// The text of the config file at `path`. Throws ConfigError (naming the path) for a missing,
// unreadable or empty file, a directory, a file over kMaxConfigFileBytes, or one that is not
// UTF-8 text.
std::string read_config_text(const std::string& path);

// Parses config text (see above). Throws ConfigError without a source prefix: "invalid JSON:
// parse error at line 3, column 5: ...", "zero_optimization.stage is given twice ...".
nlohmann::json parse_config_json(const std::string& text);

// read_config_text + parse_config_json; parse errors are prefixed with "path: ".
nlohmann::json load_config_json(const std::string& path);

}  // namespace zs
