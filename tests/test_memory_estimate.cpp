// The engine's memory accounting: the stage table's formulas, offload moving state to the host,
// and the refusal of a config whose model states cannot fit.
#include <gtest/gtest.h>

#include "zs/engine/memory_estimate.hpp"

namespace test_memory_estimate {

namespace {

zs::ModelSizes sizes_1_5b() {
  zs::ModelSizes m;
  m.params = 1'557'000'000;
  m.unit_params = 1'475'000'000;   // 48 blocks
  m.largest_unit = 30'700'000;
  m.bytes_per_param = 2;
  m.state_floats = 2;
  m.world_size = 2;
  m.ranks_per_host = 2;
  return m;
}

TEST(MemoryEstimate, StageTable) {
  const zs::ModelSizes m = sizes_1_5b();
  const zs::ZeroConfig zero;
  const double psi = double(m.params), n = 2;
  EXPECT_DOUBLE_EQ(zs::estimate_memory(m, {0}, zero).gpu_model_states(), 16 * psi);
  EXPECT_DOUBLE_EQ(zs::estimate_memory(m, {1}, zero).gpu_model_states(), 4 * psi + 12 * psi / n);
  EXPECT_DOUBLE_EQ(zs::estimate_memory(m, {2}, zero).gpu_model_states(), 2 * psi + 14 * psi / n);
  // Stage 3: 16Ψ/N, plus the parameters that stay gathered (outside units) whole, less the
  // units' 16-bit shards (gathers round the fp32 masters on the GPU directly).
  const double kept = double(m.params - m.unit_params), units = double(m.unit_params);
  EXPECT_DOUBLE_EQ(zs::estimate_memory(m, {3}, zero).gpu_model_states(),
                   16 * psi / n + 2 * kept * (1 - 1 / n) - 2 * units / n);
  // Reduced in fp32 (communication_data_type), the units' gradients take 4 bytes.
  zs::ModelSizes fp32_reduce = m;
  fp32_reduce.unit_grad_bytes = 4;
  EXPECT_DOUBLE_EQ(zs::estimate_memory(fp32_reduce, {3}, zero).gpu_model_states(),
                   16 * psi / n + 2 * kept * (1 - 1 / n));
  EXPECT_GE(zs::estimate_memory(m, {3}, zero).gathered, 2.0 * double(m.largest_unit));
}

// ZeRO++: hpZ's secondary copy is 2Ψu/g more parameter bytes; qwZ and qgZ add buffers only.
TEST(MemoryEstimate, ZeroPlusPlus) {
  const zs::ModelSizes m = sizes_1_5b();
  zs::ZeroConfig zero, hpz = zero, quantized = zero;
  hpz.zero_hpz_partition_size = 2;
  quantized.zero_quantized_weights = quantized.zero_quantized_gradients = true;
  const zs::MemoryEstimate plain = zs::estimate_memory(m, {3}, zero);
  EXPECT_DOUBLE_EQ(zs::estimate_memory(m, {3}, hpz).params, plain.params + 2.0 * double(m.unit_params) / 2);
  const zs::MemoryEstimate q = zs::estimate_memory(m, {3}, quantized);
  EXPECT_DOUBLE_EQ(q.gpu_model_states(), plain.gpu_model_states());
  EXPECT_GT(q.buffers, plain.buffers + 2.0 * double(m.largest_unit));
}

TEST(MemoryEstimate, OffloadMovesStateToTheHost) {
  const zs::ModelSizes m = sizes_1_5b();
  const zs::ZeroConfig zero;
  const double psi = double(m.params), n = 2;
  const zs::MemoryEstimate opt = zs::estimate_memory(m, {2, true}, zero);
  EXPECT_DOUBLE_EQ(opt.optimizer, 0);
  EXPECT_GE(opt.host, 12 * psi / n);
  const zs::MemoryEstimate both = zs::estimate_memory(m, {3, true, false, true}, zero);
  EXPECT_DOUBLE_EQ(both.params, 2 * double(m.params - m.unit_params));
  EXPECT_GE(both.host, 14 * double(m.unit_params) / n);
  const zs::MemoryEstimate nvme = zs::estimate_memory(m, {3, true, true, false}, zero);
  EXPECT_LT(nvme.host, 1e9);  // only the piece ring stays in host memory
  // A partial offload (ratio 0.25): a quarter of the masters and state on the host, the rest on the GPU.
  zs::ZeroConfig quarter = zero;
  quarter.offload_optimizer.ratio = 0.25;
  const zs::MemoryEstimate part = zs::estimate_memory(m, {2, true}, quarter);
  EXPECT_DOUBLE_EQ(part.optimizer, 0.75 * 12 * psi / n);
  EXPECT_DOUBLE_EQ(part.host - 0.25 * 12 * psi / n, opt.host - 12 * psi / n);  // the same piece ring
  // With offload_param whole units move, shards and state together: a quarter of the parameters,
  // all from the units.
  const double units = double(m.unit_params), moved = 0.25 * psi;
  const zs::MemoryEstimate part_both = zs::estimate_memory(m, {3, true, false, true}, quarter);
  EXPECT_DOUBLE_EQ(part_both.params, both.params + 2 * (units - moved) / n);
  EXPECT_DOUBLE_EQ(part_both.host - 2 * moved / n, part.host);
  EXPECT_DOUBLE_EQ(part_both.optimizer, part.optimizer);
  // Above the units' share every unit moves, and the gathered parameters' state stays on the GPU.
  quarter.offload_optimizer.ratio = 0.99;
  const zs::MemoryEstimate most = zs::estimate_memory(m, {3, true, false, true}, quarter);
  EXPECT_DOUBLE_EQ(most.params, both.params);
  EXPECT_DOUBLE_EQ(most.optimizer, 12 * (psi - units) / n);
}

TEST(MemoryEstimate, RefusesWhatCannotFitAndNamesWhatWould) {
  zs::Config config;
  config.zero.stage = 0;
  const zs::ModelSizes m = sizes_1_5b();
  const int64_t gpu = int64_t(20) << 30;   // 20 GiB: stage 0 needs ~23 GiB
  try {
    zs::check_memory_fits(m, config, gpu, int64_t(200) << 30);
    FAIL() << "expected a refusal";
  } catch (const zs::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("does not fit: stage 0 needs"), std::string::npos) << what;
    EXPECT_NE(what.find("stage 3"), std::string::npos) << what;
  }
  config.zero.stage = 3;
  EXPECT_NO_THROW(zs::check_memory_fits(m, config, gpu, int64_t(200) << 30));
  // Host too small for offloaded state.
  config.zero.offload_optimizer.device = "cpu";
  EXPECT_THROW(zs::check_memory_fits(m, config, gpu, int64_t(4) << 30), zs::ConfigError);
  // Unknown capacities (0) never refuse.
  EXPECT_NO_THROW(zs::check_memory_fits(m, config, 0, 0));
}

// The offload_optimizer.ratios a GPU and a host have room for: at the smallest the state fits the
// GPU, 0.05 less it does not; with a small host the largest is bounded too. The startup text names
// them, and a refusal of a ratio that does not fit suggests them first.
TEST(MemoryEstimate, FindsTheRatiosThatFit) {
  const zs::ModelSizes m = sizes_1_5b();
  zs::Config config;
  config.zero.stage = 3;
  config.zero.offload_optimizer.device = "cpu";
  const zs::OffloadChoice cpu{3, true};
  const double whole = zs::estimate_memory(m, {3}, config.zero).gpu_total();
  const int64_t gpu = int64_t(0.6 * whole);  // stage 3 alone does not fit
  const zs::RatioRange fit = zs::fitting_ratios(m, cpu, config.zero, gpu, 0);
  std::printf("ratios for a GPU of %.1f GiB: %.2f to %.2f\n", double(gpu) / double(1 << 30), fit.smallest, fit.largest);
  ASSERT_GT(fit.smallest, 0.0);
  ASSERT_LT(fit.smallest, 1.0);
  EXPECT_EQ(fit.largest, 1.0);
  zs::ZeroConfig at = config.zero;
  at.offload_optimizer.ratio = fit.smallest;
  EXPECT_LE(zs::estimate_memory(m, cpu, at).gpu_total(), double(gpu));
  at.offload_optimizer.ratio = fit.smallest - 0.05;
  EXPECT_GT(zs::estimate_memory(m, cpu, at).gpu_total(), double(gpu));
  // A host with room for about 0.85 of the state bounds the range from above.
  at.offload_optimizer.ratio = 0.85;
  const int64_t host = int64_t(zs::estimate_memory(m, cpu, at).host * m.ranks_per_host) + 1;
  const zs::RatioRange bounded = zs::fitting_ratios(m, cpu, config.zero, gpu, host);
  EXPECT_EQ(bounded.smallest, fit.smallest);
  EXPECT_NEAR(bounded.largest, 0.85, 1e-9);
  // NVMe takes no ratio; a GPU too small even for the whole offload gets none.
  EXPECT_FALSE(zs::fitting_ratios(m, {3, true, true}, config.zero, gpu, 0).any());
  EXPECT_FALSE(zs::fitting_ratios(m, cpu, config.zero, int64_t(1) << 20, 0).any());

  const std::string text = zs::describe_memory(m, config, gpu, 0);
  EXPECT_NE(text.find("offload_optimizer.ratio: this GPU and host have room for ratio 0.70 and up"), std::string::npos) << text;
  std::printf("%s", text.c_str());
  config.zero.offload_optimizer.ratio = 0.0;
  try {
    zs::check_memory_fits(m, config, gpu, 0);
    FAIL() << "expected a refusal";
  } catch (const zs::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("These would fit: offload_optimizer.ratio 0.70 and up, stage 3 + offload_optimizer,"), std::string::npos) << what;
    std::printf("%s\n", what.c_str());
  }
}

TEST(MemoryEstimate, DescribesEveryChoice) {
  zs::Config config;
  config.zero.stage = 3;
  const std::string text = zs::describe_memory(sizes_1_5b(), config, int64_t(141) << 30, int64_t(250) << 30);
  EXPECT_NE(text.find("stage 2 + offload_optimizer"), std::string::npos) << text;
  EXPECT_NE(text.find("this run, stage 3"), std::string::npos) << text;
  std::printf("%s", text.c_str());
  // CPU ranks: one line, per rank.
  const std::string cpu = zs::describe_memory(sizes_1_5b(), config, 0, int64_t(250) << 30, /*on_gpu=*/false);
  EXPECT_NE(cpu.find("this run, stage 3: per rank params"), std::string::npos) << cpu;
  EXPECT_EQ(cpu.find("GPU"), std::string::npos) << cpu;
  EXPECT_EQ(cpu.find("stage 2 + offload_optimizer"), std::string::npos) << cpu;
}

}  // namespace

}  // namespace test_memory_estimate
