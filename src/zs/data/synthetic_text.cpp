#include "zs/data/synthetic_text.hpp"

#include <cctype>
#include <vector>

#include "zs/base/mix64.hpp"

namespace zs {
namespace {

// splitmix64: tiny, portable, and the same stream everywhere (std:: distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : stream_(seed) {}
  uint64_t next() { return stream_.next(); }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  bool chance(int percent) { return below(100) < static_cast<size_t>(percent); }
  template <typename T>
  const T& pick(const std::vector<T>& items) { return items[below(items.size())]; }

 private:
  SplitMix64 stream_;
};

const std::vector<std::string> kDeterminers = {"the", "a", "every", "that", "one", "no"};
const std::vector<std::string> kAdjectives = {"old", "quiet", "bright", "small", "green", "clever",
                                              "tired", "hungry", "brave", "gentle", "strange", "red"};
const std::vector<std::string> kNouns = {"king", "sailor", "fox", "river", "garden", "child", "baker",
                                         "queen", "horse", "lantern", "stranger", "village", "bird", "door"};
const std::vector<std::string> kNames = {"Anna", "Tom", "Maria", "Peter", "Lucy", "Hugo"};
const std::vector<std::string> kTransitiveVerbs = {"sees", "finds", "loves", "follows", "carries", "calls",
                                                   "watches", "remembers", "opens", "paints"};
const std::vector<std::string> kIntransitiveVerbs = {"sleeps", "sings", "waits", "runs", "laughs", "listens",
                                                     "wanders", "falls"};
const std::vector<std::string> kPrepositions = {"near", "behind", "under", "beside", "across", "beyond"};
const std::vector<std::string> kAdverbs = {"slowly", "softly", "again", "at night", "today", "in silence"};
const std::vector<std::string> kConjunctions = {"and", "but", "so", "while"};

std::string noun_phrase(Rng& rng) {
  if (rng.chance(20)) return rng.pick(kNames);
  std::string phrase = rng.pick(kDeterminers);
  if (rng.chance(50)) phrase += " " + rng.pick(kAdjectives);
  return phrase + " " + rng.pick(kNouns);
}

std::string clause(Rng& rng) {
  std::string text = noun_phrase(rng);
  if (rng.chance(60)) {
    text += " " + rng.pick(kTransitiveVerbs) + " " + noun_phrase(rng);
  } else {
    text += " " + rng.pick(kIntransitiveVerbs);
  }
  if (rng.chance(35)) text += " " + rng.pick(kPrepositions) + " " + noun_phrase(rng);
  if (rng.chance(25)) text += " " + rng.pick(kAdverbs);
  return text;
}

std::string sentence(Rng& rng) {
  std::string text = clause(rng);
  if (rng.chance(30)) text += ", " + rng.pick(kConjunctions) + " " + clause(rng);
  text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  const size_t mark = rng.below(10);
  text += mark < 7 ? "." : (mark < 9 ? "!" : "?");
  return text;
}

}  // namespace

std::string synthetic_text(size_t n_chars, uint64_t seed) {
  Rng rng(seed);
  std::string text;
  text.reserve(n_chars + 256);
  while (text.size() < n_chars) {
    // A paragraph: a few lines of one or two sentences, then a blank line.
    const size_t lines = 2 + rng.below(4);
    for (size_t l = 0; l < lines; ++l) {
      text += sentence(rng);
      if (rng.chance(40)) text += " " + sentence(rng);
      text += "\n";
    }
    text += "\n";
  }
  text.resize(n_chars);
  return text;
}

}  // namespace zs
