// The fused rotary-embedding kernel (GPU build only) against the ATen formula it replaces, on the
// GPU: forward values and input gradients bit for bit in float32, bfloat16 and float16, for
// multi-head and grouped key shapes, a head_dim of 64 and 128, tables with llama3 scaling, and an
// incoming gradient in SDPA's transposed layout (the kernel's strided path).
#include <gtest/gtest.h>

#include <cstring>
#include <tuple>

#include <ATen/TensorOperators.h>
#include <ATen/ops/randn.h>
#include <torch/csrc/autograd/autograd.h>

#include "support/tensor_compare.hpp"
#include "zs/models/llama/llama_config.hpp"
#include "zs/models/llama/llama_rope.hpp"
#include "zs/models/llama/llama_rope_cuda.hpp"

namespace {

using zs::testing::same_bits;


using Case = std::tuple<c10::ScalarType, int64_t, int64_t, bool>;  // dtype, heads, head_dim, llama3 scaling
class RopeCuda : public ::testing::TestWithParam<Case> {};

TEST_P(RopeCuda, MatchesTheAtenFormulaBitForBit) {
  const auto [dtype, heads, head_dim, llama3] = GetParam();
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  zs::LlamaConfig config;
  config.hidden_size = heads * head_dim;
  config.num_attention_heads = heads;
  config.rope_theta = 500000.0;
  if (llama3) {
    config.rope_scaling.type = "llama3";
    config.rope_scaling.factor = 8.0;
    config.rope_scaling.low_freq_factor = 1.0;
    config.rope_scaling.high_freq_factor = 4.0;
    config.rope_scaling.original_max_position_embeddings = 64;
  }
  const int64_t B = 3, T = 77;
  const auto gpu = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const zs::RopeTables tables = zs::rope_tables(config, T, dtype, c10::Device(at::kCUDA));
  at::manual_seed(7);
  const at::Tensor x = at::randn({B, T, heads, head_dim}, gpu) * 3.0;
  ASSERT_TRUE(zs::fused_rotary_applies(x, tables.cos, tables.sin));

  const at::Tensor x_ref = x.detach().requires_grad_(true), x_fused = x.detach().requires_grad_(true);
  const at::Tensor y_ref = zs::apply_rotary_reference(x_ref, tables.cos, tables.sin);
  const at::Tensor y_fused = zs::apply_rotary_fused(x_fused, tables.cos, tables.sin);
  EXPECT_TRUE(same_bits(y_ref, y_fused)) << "forward, max |diff| "
                                         << (y_ref.to(at::kFloat) - y_fused.to(at::kFloat)).abs().max().item<float>();

  // The gradient SDPA hands back is a [B, heads, T, head_dim] tensor seen as [B, T, heads, head_dim].
  const at::Tensor grad = at::randn({B, heads, T, head_dim}, gpu).transpose(1, 2);
  ASSERT_FALSE(grad.is_contiguous());
  const at::Tensor g_ref = torch::autograd::grad({y_ref}, {x_ref}, {grad})[0];
  const at::Tensor g_fused = torch::autograd::grad({y_fused}, {x_fused}, {grad})[0];
  EXPECT_TRUE(same_bits(g_ref, g_fused)) << "backward, max |diff| "
                                         << (g_ref.to(at::kFloat) - g_fused.to(at::kFloat)).abs().max().item<float>();
}

INSTANTIATE_TEST_SUITE_P(Shapes, RopeCuda,
                         ::testing::Combine(::testing::Values(at::kFloat, at::kBFloat16, at::kHalf),
                                            ::testing::Values(int64_t(2), int64_t(8)),
                                            ::testing::Values(int64_t(64), int64_t(128)), ::testing::Bool()));

TEST(RopeCuda, OtherShapesTakeTheAtenPath) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto gpu = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  const at::Tensor cos = at::randn({5, 24}, gpu), sin = at::randn({5, 24}, gpu);
  EXPECT_FALSE(zs::fused_rotary_applies(at::randn({2, 5, 3, 24}, gpu), cos, sin));  // head_dim not a multiple of 16
  EXPECT_FALSE(zs::fused_rotary_applies(at::randn({2, 5, 3, 24}, gpu.device(at::kCPU)), cos, sin));
}

}  // namespace
