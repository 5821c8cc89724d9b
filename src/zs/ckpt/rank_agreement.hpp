// Collective error handling for checkpoint steps: when a step fails on some ranks (a disk error,
// a corrupted shard only one rank reads), every rank must learn it, or the others would wait
// forever in the next collective. Also: one rank's string (a tag) sent to all.
#pragma once

#include <functional>
#include <string>

#include "zs/dist/world.hpp"

namespace zs {

// Runs `body` on this rank, then agrees with every rank: if it threw anywhere, every rank throws
// CheckpointError with the message of the lowest failing rank (prefixed "rank <r>: " on others).
// Collective.
void run_on_all_ranks(World& world, const std::function<void()>& body);

// `root`'s `text` on every rank (at most 4095 bytes). Collective.
std::string broadcast_string(World& world, const std::string& text, int root = 0);

}  // namespace zs
