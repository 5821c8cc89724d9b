// squared_norm (of one tensor and of several) and has_inf_or_nan on fp32 and 16-bit tensors.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

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

// Several tensors: the sum of their squared norms, on the CPU by way of each one's.
TEST(GradUtils, SquaredNormOfSeveralTensors) {
  at::manual_seed(3);
  std::vector<at::Tensor> xs{at::randn({1000}), at::zeros({0}), at::randn({7, 3}), at::randn({(int64_t{1} << 22) + 9})};
  double want = 0;
  for (const at::Tensor& x : xs) want += reference_squared_norm(x);
  at::Tensor n = zs::squared_norm(xs);
  EXPECT_EQ(n.dim(), 0);
  EXPECT_EQ(n.scalar_type(), at::kFloat);
  EXPECT_NEAR(n.item<double>() / want, 1.0, 1e-6);
}

// On a GPU: many slots at odd offsets in flat buffers (several launches of the batched kernel),
// empty ones among them, for each dtype; one call's result is the same bits every time, and
// tensors the kernel does not take (strided ones) still get the right sum.
TEST(GradUtils, SquaredNormOfManyTensorsOnAGpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(4);
  for (auto dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
    const at::Tensor flat = at::randn({int64_t{3} << 22}).mul(5.0).to(dtype).to(at::kCUDA);
    std::vector<at::Tensor> slots;
    double want = 0;
    int64_t offset = 0;
    const std::vector<int64_t> sizes{0, 1, 7, 8, 9, 63, 1000, 8191, 8192, 8200, 65543, 300001};
    for (int i = 0; i < 150; ++i) {
      const int64_t n = sizes[size_t(i) % sizes.size()];
      slots.push_back(flat.narrow(0, offset, n));
      want += reference_squared_norm(slots.back().cpu());
      offset += n + i % 5;  // odd offsets: heads before the first 16-byte boundary
    }
    const at::Tensor got = zs::squared_norm(slots);
    EXPECT_TRUE(got.is_cuda());
    EXPECT_EQ(got.scalar_type(), at::kFloat);
    EXPECT_NEAR(got.item<double>() / want, 1.0, 1e-5) << dtype;
    EXPECT_TRUE(at::equal(zs::squared_norm(slots), got)) << dtype << ": not the same bits on a second call";
    const at::Tensor strided = flat.narrow(0, 0, 20000).view({100, 200}).t();
    EXPECT_NEAR(zs::squared_norm(std::vector<at::Tensor>{strided, slots[5]}).item<double>() /
                    (reference_squared_norm(strided.cpu()) + reference_squared_norm(slots[5].cpu())),
                1.0, 1e-5);
  }
}

}  // namespace test_grad_utils
