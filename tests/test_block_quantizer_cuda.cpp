// BlockQuantizer's CUDA kernels (GPU build only) against its CPU loops: the same codes, scales and
// restored values bit for bit, for int8 and int4, three block sizes, three dtypes, partial last
// blocks, unaligned views (the kernels' scalar path) and non-finite blocks; and the quantized
// collectives over NCCL on 2 GPUs (tests/progs/quantized_collectives_probe.cpp --device cuda).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>

#include <ATen/TensorOperators.h>
#include <ATen/Context.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/sin.h>

#include "support/run_ranks.hpp"
#include "support/tensor_compare.hpp"
#include "zs/comm_codec/block_quantizer.hpp"

namespace {

using zs::testing::same_bits;

at::Tensor mixed_data(int64_t numel, int64_t block) {
  auto i = at::arange(numel, at::kDouble);
  return (at::sin(i * 1.37 + 0.5) * at::pow(10.0, i.div(block, "floor").remainder(4))).to(at::kFloat);
}

// Equal bits, NaN included (a non-finite block restores as NaN on both sides).

using Case = std::tuple<int, int64_t, c10::ScalarType, int64_t>;  // bits, block, dtype, numel
class QuantizerCuda : public ::testing::TestWithParam<Case> {};

TEST_P(QuantizerCuda, SameBitsAsTheCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const auto [bits, block, dtype, numel] = GetParam();
  zs::BlockQuantizer q(bits, block);
  auto cpu_x = mixed_data(numel + 1, block).to(dtype);
  if (numel > 3) cpu_x[3] = numel % 2 ? std::numeric_limits<float>::infinity() : 0.f;  // one odd block
  auto gpu_x = cpu_x.cuda();
  for (int64_t offset : {0, 1}) {  // 1: an unaligned view, the kernels' scalar path
    auto on_cpu = q.quantize(cpu_x.slice(0, offset, offset + numel));
    auto on_gpu = q.quantize(gpu_x.slice(0, offset, offset + numel));
    EXPECT_TRUE(same_bits(on_gpu.payload, on_cpu.payload)) << "payload, offset " << offset;
    EXPECT_TRUE(same_bits(on_gpu.scales, on_cpu.scales)) << "scales, offset " << offset;
    for (auto out : {at::kFloat, at::kBFloat16, at::kHalf}) {
      EXPECT_TRUE(same_bits(q.dequantize(on_gpu, out), q.dequantize(on_cpu, out))) << c10::toString(out);
    }
    // Into an unaligned output view too.
    auto gpu_out = at::empty({numel + 1}, at::TensorOptions().dtype(dtype).device(at::kCUDA));
    q.dequantize_into(on_gpu.payload, on_gpu.scales, gpu_out.slice(0, 1));
    EXPECT_TRUE(same_bits(gpu_out.slice(0, 1), q.dequantize(on_cpu, dtype)));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, QuantizerCuda,
                         ::testing::Combine(::testing::Values(8, 4), ::testing::Values(int64_t(8), int64_t(256), int64_t(4096)),
                                            ::testing::Values(at::kFloat, at::kBFloat16, at::kHalf),
                                            ::testing::Values(int64_t(1), int64_t(1000), int64_t(1 << 20) + 13)));

TEST(QuantizerCuda, PackedRoundTripOnTheGpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  zs::BlockQuantizer q(8, 2048);
  auto x = mixed_data(100000, 2048).cuda();
  auto packed = at::empty({q.packed_bytes(x.numel())}, x.options().dtype(at::kByte));
  q.quantize_packed(x, packed);
  auto back = at::empty_like(x);
  q.dequantize_packed(packed, back);
  auto cpu_back = at::empty({x.numel()});
  q.dequantize_packed(packed.cpu(), cpu_back);
  EXPECT_TRUE(same_bits(back, cpu_back));
}

TEST(QuantizedCollectivesNccl, TwoGpusWithinTheirBounds) {
  if (!at::hasCUDA() || at::getNumGPUs() < 2) GTEST_SKIP() << "needs 2 GPUs";
  auto r = zs::testing::run_command(std::string(ZS_BIN_DIR) + "/zsrun --num_gpus 2 " + ZS_BIN_DIR +
                                        "/tests/quantized_collectives_probe --device cuda",
                                    300);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::printf("%s\n", r.output.c_str());
  EXPECT_NE(r.output.find("rank 1 ok"), std::string::npos) << r.output;
}

}  // namespace
