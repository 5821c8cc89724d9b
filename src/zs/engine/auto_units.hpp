// Stage 3 on a model that marks no units. Parameters outside units stay whole on every rank, so a
// model without units would silently not be partitioned at all; instead the engine does what FSDP
// users do by hand (one unit per block of the container that holds the model's bulk): it makes
// the children of the torch::nn::Sequential holding most of the parameters units
// (zero/sequential_units.hpp), or refuses with a message that says what to mark.
#pragma once

#include <string>

#include <torch/nn/module.h>

namespace zs {

// Returns what it did, for the start-up log ("made the 3 children of 'net' units ..."). Throws
// ConfigError when no Sequential holds at least half of the trainable parameters.
std::string make_automatic_units(torch::nn::Module& model);

}  // namespace zs
