#pragma once
// English-like text from a small hand-written grammar (subjects, verbs, objects, adjectives,
// prepositions, punctuation, line breaks). Its structure is easy to pick up, so a char-level GPT's
// loss falls visibly within a few hundred steps: a corpus for demos and tests that needs no download.
#include <cstddef>
#include <cstdint>
#include <string>

namespace zs {

// Exactly n_chars bytes of ASCII text; the same seed gives the same text on every machine.
std::string synthetic_text(size_t n_chars, uint64_t seed);

}  // namespace zs
