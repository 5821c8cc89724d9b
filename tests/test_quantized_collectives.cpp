// Quantized all-gather and reduce-scatter (ZeRO++'s codecs) on real MPI ranks through zsrun, against
// the plain collectives within their stated error bounds (tests/progs/quantized_collectives_probe.cpp
// prints each case's measured error and its share of the bound).
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <string>

#include "support/run_ranks.hpp"
#include "support/error_of.hpp"

namespace test_quantized_collectives {

namespace {

using zs::testing::contains;

class QuantizedCollectivesMpi : public ::testing::TestWithParam<int> {};

TEST_P(QuantizedCollectivesMpi, WithinTheirBoundsOfThePlainCollectives) {
  const int n = GetParam();
  auto r = zs::testing::run_command(std::string(ZS_BIN_DIR) + "/zsrun --num_procs " + std::to_string(n) + " " +
                                        ZS_BIN_DIR + "/tests/quantized_collectives_probe",
                                    180);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    if (contains(line, "[quantized]")) std::cout << line << "\n";  // the figures, in the test log
  for (int rank = 0; rank < n; ++rank) {
    const std::string rs = std::to_string(rank);
    EXPECT_TRUE(contains(r.output, "[rank " + rs + "] rank " + rs + " ok: ")) << r.output;
  }
  EXPECT_EQ(contains(r.output, "hierarchical reduce_scatter"), n == 4) << r.output;
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, QuantizedCollectivesMpi, ::testing::Values(2, 3, 4));

}  // namespace

}  // namespace test_quantized_collectives
