// BlockQuantizer on CPU: round trips within the stated bound (|x - x'| <= scale / 2 per block, scale
// = max|x| / qmax), the edge cases (zeros, one huge value, partial last blocks, empty, inf/NaN), the
// exact byte layout, half-to-even rounding and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>

#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/isnan.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/sin.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

#include "support/error_of.hpp"
#include "zs/comm_codec/block_quantizer.hpp"

namespace test_block_quantizer {

namespace {

// Deterministic data whose magnitude changes from block to block (1x .. 1000x).
at::Tensor mixed_data(int64_t numel, int64_t block) {
  auto i = at::arange(numel, at::kDouble);
  auto magnitude = at::pow(10.0, (i.div(block, "floor").remainder(4)));
  return (at::sin(i * 1.37 + 0.5) * magnitude).to(at::kFloat);
}

// Max over elements of |x - x'| / (scale of its block / 2); <= 1 is the bound.
double worst_error_in_half_scales(const at::Tensor& x, const at::Tensor& back, const at::Tensor& scales, int64_t block,
                                  double slack_per_value) {
  auto xf = x.to(at::kDouble), bf = back.to(at::kDouble);
  double worst = 0;
  for (int64_t b = 0; b < scales.numel(); ++b) {
    const int64_t lo = b * block, hi = std::min(x.numel(), lo + block);
    const double half = scales[b].item<double>() / 2;
    auto err = (xf.slice(0, lo, hi) - bf.slice(0, lo, hi)).abs() - bf.slice(0, lo, hi).abs() * slack_per_value;
    const double e = err.max().item<double>();
    worst = std::max(worst, half > 0 ? e / half : (e > 0 ? INFINITY : 0));
  }
  return worst;
}

using Case = std::tuple<int, int64_t, c10::ScalarType>;  // bits, block size, dtype
class QuantizerRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(QuantizerRoundTrip, ErrorWithinHalfAScalePerBlock) {
  const auto [bits, block, dtype] = GetParam();
  zs::BlockQuantizer q(bits, block);
  const int64_t numel = 10 * block + 37;  // a partial last block
  auto x = mixed_data(numel, block).to(dtype);
  auto packed = q.quantize(x);
  ASSERT_EQ(packed.payload.numel(), 11 * block * bits / 8);
  ASSERT_EQ(packed.scales.numel(), 11);
  // scale = max|x| / qmax, block by block.
  for (int64_t b = 0; b < 11; ++b) {
    const float amax = x.slice(0, b * block, std::min(numel, (b + 1) * block)).to(at::kFloat).abs().max().item<float>();
    EXPECT_EQ(packed.scales[b].item<float>(), amax / q.qmax()) << "block " << b;
  }
  auto back = q.dequantize(packed, dtype);
  ASSERT_EQ(back.numel(), numel);
  // float32: float rounding only; 16-bit: the dtype's own rounding of each restored value too.
  const double slack = dtype == at::kFloat ? 1e-6 : dtype == at::kBFloat16 ? 1.0 / 256 : 1.0 / 2048;
  const double worst = worst_error_in_half_scales(x, back, packed.scales, block, slack);
  std::printf("[quantizer] int%d block %lld %s: max |x - x'| = %.4f x (scale / 2)\n", bits, (long long)block,
              c10::toString(dtype), worst);
  EXPECT_LE(worst, 1.0 + 1e-5);
  // float32 out of bfloat16 codes: no second rounding.
  auto back32 = q.dequantize(packed, at::kFloat);
  EXPECT_LE(worst_error_in_half_scales(x, back32, packed.scales, block, 1e-6), 1.0 + 1e-5);
}

INSTANTIATE_TEST_SUITE_P(BitsBlocksDtypes, QuantizerRoundTrip,
                         ::testing::Combine(::testing::Values(8, 4), ::testing::Values(int64_t(256), int64_t(2048)),
                                            ::testing::Values(at::kFloat, at::kBFloat16, at::kHalf)));

TEST(Quantizer, ZeroBlockComesBackAsZeros) {
  for (int bits : {8, 4}) {
    zs::BlockQuantizer q(bits, 16);
    auto x = at::cat({at::zeros({16}), at::arange(1, 17, at::kFloat)});
    auto packed = q.quantize(x);
    EXPECT_EQ(packed.scales[0].item<float>(), 0.f);
    auto back = q.dequantize(packed, at::kFloat);
    EXPECT_TRUE(at::equal(back.slice(0, 0, 16), at::zeros({16})));
  }
}

TEST(Quantizer, OneHugeValueKeepsItselfAndFlushesTheSmallOnes) {
  for (int bits : {8, 4}) {
    zs::BlockQuantizer q(bits, 64);
    auto x = at::full({64}, 0.001f);
    x[10] = -1e6f;
    auto packed = q.quantize(x);
    auto back = q.dequantize(packed, at::kFloat);
    EXPECT_NEAR(back[10].item<float>(), -1e6f, 1e6 * 1e-6);   // q = -qmax exactly
    EXPECT_EQ(back[0].item<float>(), 0.f);                    // 0.001 / (1e6 / qmax) rounds to 0
    EXPECT_LE(worst_error_in_half_scales(x, back, packed.scales, 64, 1e-6), 1.0 + 1e-5);
  }
}

TEST(Quantizer, PartialAndTinySizes) {
  zs::BlockQuantizer q(4, 256);
  for (int64_t numel : {1, 7, 255, 256, 257, 1000}) {
    auto x = mixed_data(numel, 256);
    auto packed = q.quantize(x);
    EXPECT_EQ(packed.payload.numel(), q.num_blocks(numel) * 128) << numel;
    auto back = q.dequantize(packed, at::kFloat);
    ASSERT_EQ(back.numel(), numel);
    EXPECT_LE(worst_error_in_half_scales(x, back, packed.scales, 256, 1e-6), 1.0 + 1e-5) << numel;
  }
}

TEST(Quantizer, EmptyTensor) {
  zs::BlockQuantizer q(8, 256);
  auto packed = q.quantize(at::zeros({0}));
  EXPECT_EQ(packed.payload.numel(), 0);
  EXPECT_EQ(packed.scales.numel(), 0);
  EXPECT_EQ(q.dequantize(packed, at::kBFloat16).numel(), 0);
  EXPECT_EQ(q.packed_bytes(0), 0);
}

TEST(Quantizer, InfOrNanMakesItsBlockNan) {
  zs::BlockQuantizer q(8, 8);
  auto x = at::arange(16, at::kFloat);
  x[3] = std::numeric_limits<float>::infinity();
  auto back = q.dequantize(q.quantize(x), at::kFloat);
  EXPECT_TRUE(back.slice(0, 0, 8).isnan().all().item<bool>());
  EXPECT_FALSE(back.slice(0, 8, 16).isnan().any().item<bool>());
  x[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(q.dequantize(q.quantize(x), at::kFloat).slice(0, 0, 8).isnan().all().item<bool>());
}

TEST(Quantizer, ByteLayoutAndHalfToEvenRounding) {
  // max|x| = qmax, so scale = 1 and the codes are x rounded half to even.
  auto x8 = at::tensor({127.f, -127.f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 3.f});
  auto p8 = zs::BlockQuantizer(8, 8).quantize(x8);
  auto codes8 = p8.payload.view(at::kChar);
  EXPECT_TRUE(at::equal(codes8, at::tensor({127, -127, 0, 2, 2, 0, -2, 3}, at::kChar))) << codes8;
  EXPECT_EQ(p8.scales[0].item<float>(), 1.f);
  // int4: element 2i in the low nibble, stored as code + 8.
  auto x4 = at::tensor({7.f, -7.f, 0.f, 1.f, 2.5f, 3.5f, -3.f, 6.f});
  auto p4 = zs::BlockQuantizer(4, 8).quantize(x4);
  EXPECT_TRUE(at::equal(p4.payload, at::tensor({0x1F, 0x98, 0xCA, 0xE5}, at::kByte))) << p4.payload;
}

TEST(Quantizer, PackedFormMatchesTheParts) {
  zs::BlockQuantizer q(8, 256);
  auto x = mixed_data(1000, 256).to(at::kBFloat16);
  auto parts = q.quantize(x);
  auto packed = at::empty({q.packed_bytes(1000)}, at::kByte);
  q.quantize_packed(x, packed);
  EXPECT_TRUE(at::equal(packed.slice(0, 0, q.payload_bytes(1000)), parts.payload));
  EXPECT_TRUE(at::equal(packed.slice(0, q.payload_bytes(1000)).view(at::kFloat), parts.scales));
  auto out = at::empty({1000}, at::kFloat);
  q.dequantize_packed(packed, out);
  EXPECT_TRUE(at::equal(out, q.dequantize(parts, at::kFloat)));
}

TEST(Quantizer, BadArgumentsAreClearErrors) {
  EXPECT_THROW(zs::BlockQuantizer(3, 256), std::invalid_argument);
  EXPECT_THROW(zs::BlockQuantizer(8, 100), std::invalid_argument);
  EXPECT_THROW(zs::BlockQuantizer(8, 0), std::invalid_argument);
  zs::BlockQuantizer q(8, 256);
  EXPECT_THROW(q.quantize(at::zeros({10}, at::kDouble)), std::invalid_argument);
  EXPECT_THROW(q.quantize(at::zeros({4, 4}).t()), std::invalid_argument);
  auto x = at::zeros({300});
  EXPECT_THROW(q.quantize_into(x, at::empty({256}, at::kByte), at::empty({2})), std::invalid_argument);
  EXPECT_THROW(q.quantize_into(x, at::empty({512}, at::kByte), at::empty({2}, at::kDouble)), std::invalid_argument);
  const std::string packed_error = zs::testing::error_of<std::invalid_argument>(
      [&] { q.dequantize_packed(at::empty({100}, at::kByte), at::empty({300})); });
  EXPECT_NE(packed_error.find("has 100 bytes, want 520"), std::string::npos) << packed_error;
}

}  // namespace

}  // namespace test_block_quantizer
