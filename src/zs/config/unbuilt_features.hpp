// Features that ZeroShard's config accepts and validates but this build cannot run yet.
// As a feature lands, delete its lines from reject_unbuilt_features (unbuilt_features.cpp).
#pragma once

#include <string>

#include "zs/config/config.hpp"

namespace zs {

// Throws ConfigError naming the key when `config` uses (enables, or sets to a non-default value)
// a feature this build does not have yet.
void reject_unbuilt_features(const Config& config);

// parse_config without reject_unbuilt_features: the full DeepSpeed config, validated, for tools
// that only inspect a config (memory estimates, checkpoint conversion) and for tests.
Config read_config(const std::string& json_text, int world_size, const AutoValues& autos = {},
                   const std::string& source_name = "<config>");

}  // namespace zs
