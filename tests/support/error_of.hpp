// Checks of text for tests: the message of the exception that a piece of code throws,
//   EXPECT_NE(error_of<zs::ConfigError>([&] { parse(text); }).find("train_batch_size"), std::string::npos);
// "" when it throws nothing; an exception of another type than E goes on (and fails the test).
#pragma once

#include <exception>
#include <utility>
#include <string>

namespace zs::testing {

// Whether the text holds the part: EXPECT_TRUE(contains(output, "[rank 1]")) << output.
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

template <class E = std::exception, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace zs::testing

// EXPECT_CONTAINS(message, "train_batch_size"): the text holds the part (the text is shown when not).
#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)
