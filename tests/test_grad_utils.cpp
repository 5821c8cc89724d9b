// squared_norm and has_inf_or_nan on fp32 and 16-bit tensors.
#include <gtest/gtest.h>

#include <limits>

#include <ATen/Context.h>
#include <ATen/Functions.h>

#include "zs/optim/grad_utils.hpp"

namespace test_grad_utils {

namespace {

double reference_squared_norm(const at::Tensor& t) {
  return t.to(at::kDouble).square().sum().item<double>();
}

}  // namespace

TEST(GradUtils, SquaredNormFp32) {
  at::manual_seed(0);
  at::Tensor x = at::randn({100003});
  at::Tensor n = zs::squared_norm(x);
  EXPECT_EQ(n.dim(), 0);
  EXPECT_EQ(n.scalar_type(), at::kFloat);
  EXPECT_NEAR(n.item<double>() / reference_squared_norm(x), 1.0, 1e-6);
}

TEST(GradUtils, SquaredNormSixteenBitAccumulatesInFp32) {
  at::manual_seed(1);
  // More than one widening chunk (4Mi elements), and values whose squares sum past bf16/fp16
  // range and precision.
  for (auto dtype : {at::kBFloat16, at::kHalf}) {
    at::Tensor x = at::randn({(int64_t{1} << 22) + 12345}).mul(30.0).to(dtype);
    at::Tensor n = zs::squared_norm(x);
    EXPECT_EQ(n.scalar_type(), at::kFloat);
    EXPECT_NEAR(n.item<double>() / reference_squared_norm(x), 1.0, 1e-5) << dtype;
  }
}

TEST(GradUtils, SquaredNormEmptyAndShaped) {
  EXPECT_EQ(zs::squared_norm(at::zeros({0})).item<float>(), 0.0f);
  at::Tensor m = at::full({3, 4}, 2.0);
  EXPECT_FLOAT_EQ(zs::squared_norm(m).item<float>(), 48.0f);
}

TEST(GradUtils, HasInfOrNan) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  at::Tensor x = at::randn({1000});
  at::Tensor r = zs::has_inf_or_nan(x);
  EXPECT_EQ(r.dim(), 0);
  EXPECT_EQ(r.scalar_type(), at::kFloat);
  EXPECT_EQ(r.item<float>(), 0.0f);

  for (float bad : {inf, -inf, nan}) {
    at::Tensor y = x.clone();
    y[517] = bad;
    EXPECT_EQ(zs::has_inf_or_nan(y).item<float>(), 1.0f) << bad;
  }
  at::Tensor both = x.clone();
  both[1] = inf;
  both[2] = -inf;  // sums to nan
  EXPECT_EQ(zs::has_inf_or_nan(both).item<float>(), 1.0f);

  // 16-bit: the largest finite values are not an overflow; an inf is.
  at::Tensor h = at::full({100000}, 65504.0, at::kHalf);
  EXPECT_EQ(zs::has_inf_or_nan(h).item<float>(), 0.0f);
  h[99999] = inf;
  EXPECT_EQ(zs::has_inf_or_nan(h).item<float>(), 1.0f);
  at::Tensor b = at::randn({5000}).to(at::kBFloat16);
  EXPECT_EQ(zs::has_inf_or_nan(b).item<float>(), 0.0f);
  b[0] = nan;
  EXPECT_EQ(zs::has_inf_or_nan(b).item<float>(), 1.0f);
}

TEST(GradUtils, CudaMatchesCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(2);
  for (auto dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
    at::Tensor x = at::randn({(int64_t{1} << 22) + 7}).mul(10.0).to(dtype);
    at::Tensor n = zs::squared_norm(x.to(at::kCUDA));
    EXPECT_TRUE(n.is_cuda());
    EXPECT_EQ(n.scalar_type(), at::kFloat);
    EXPECT_NEAR(n.item<double>() / reference_squared_norm(x), 1.0, 1e-5) << dtype;
    at::Tensor y = x.to(at::kCUDA);
    EXPECT_EQ(zs::has_inf_or_nan(y).item<float>(), 0.0f);
    y[12345] = std::numeric_limits<float>::quiet_NaN();
    at::Tensor flag = zs::has_inf_or_nan(y);
    EXPECT_TRUE(flag.is_cuda());
    EXPECT_EQ(flag.item<float>(), 1.0f);
  }
}

}  // namespace test_grad_utils
