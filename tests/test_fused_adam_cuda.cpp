// The fused Adam/AdamW step of 16-bit training (fused_adam_cuda.hpp, GPU build only) against the
// path it replaces: LibTorch's at::_fused_adam_/_fused_adamw_ over the gradient converted to fp32,
// then the master copied into the 16-bit parameter. Master, exp_avg, exp_avg_sq and parameter must
// match bit for bit after every step, for bf16 and fp16 parameters with 16-bit or fp32 gradients,
// Adam and AdamW, weight decay on and off, with and without a gradient divisor, slots of odd sizes
// at offsets inside flat buffers (aligned, with a common aligned head, and with none), and nothing
// outside a slot may change. A batch of slots in one call against each slot alone. Then the same
// through the optimizer (make_adam's step_slots_16bit
// against its step_slots), and a line with the time of both paths on a large slot.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/_fused_adam.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>

#include "zs/optim/fused_adam_cuda.hpp"
#include "support/gpu_time.hpp"
#include "zs/optim/optimizer.hpp"

namespace {

constexpr double kLr = 1e-3, kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;

const char* dtype_name(c10::ScalarType t) {
  return t == at::kBFloat16 ? "bf16" : t == at::kHalf ? "fp16" : "fp32";
}

// Bit equality (16- or 32-bit floats), and for fp32 the largest difference in units in the last
// place (as integers: adjacent floats of one sign differ by one).
bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  const auto as_int = a.element_size() == 4 ? at::kInt : at::kShort;
  return at::equal(a.contiguous().view(as_int), b.contiguous().view(as_int));
}
int64_t max_ulps(const at::Tensor& a, const at::Tensor& b) {
  if (a.element_size() != 4) return -1;
  const at::Tensor d = (a.contiguous().view(at::kInt).to(at::kLong) - b.contiguous().view(at::kInt).to(at::kLong)).abs();
  return d.numel() ? d.max().item<int64_t>() : 0;
}

struct Mismatches {
  int64_t checks = 0, failed = 0, worst_ulps = 0;
  std::string first;
  void check(const at::Tensor& got, const at::Tensor& want, const std::string& what) {
    ++checks;
    if (same_bits(got, want)) return;
    ++failed;
    worst_ulps = std::max(worst_ulps, max_ulps(got, want));
    if (first.empty()) first = what + ": max ulps " + std::to_string(max_ulps(got, want));
  }
};

// The reference step: the gradient converted to fp32, LibTorch's fused kernel, the cast. (A copy
// also of an fp32 gradient: LibTorch's kernel writes the divided gradient back.)
void reference_step(const at::Tensor& master, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq,
                    const at::Tensor& grad, const at::Tensor& step, double lr, double weight_decay, bool decoupled,
                    const std::optional<at::Tensor>& divisor) {
  const at::Tensor g = grad.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  if (decoupled)
    at::_fused_adamw_({master}, {g}, {exp_avg}, {exp_avg_sq}, {}, {step}, lr, kBeta1, kBeta2, weight_decay, kEps,
                      /*amsgrad=*/false, /*maximize=*/false, divisor);
  else
    at::_fused_adam_({master}, {g}, {exp_avg}, {exp_avg_sq}, {}, {step}, lr, kBeta1, kBeta2, weight_decay, kEps,
                     /*amsgrad=*/false, /*maximize=*/false, divisor);
}

// param dtype, grad dtype, AdamW, weight decay, divisor
using Case = std::tuple<c10::ScalarType, c10::ScalarType, bool, double, bool>;
class FusedAdamCuda : public ::testing::TestWithParam<Case> {};

TEST_P(FusedAdamCuda, MatchesLibTorchsFusedAdamAndTheCastBitForBit) {
  const auto [param_type, grad_type, decoupled, weight_decay, divide] = GetParam();
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto f32 = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  if (!decoupled && weight_decay != 0.0) {
    // Adam with L2 decay: its rounding was measured to differ from LibTorch's kernel by an ulp, so
    // the fused step refuses it (and the optimizer keeps LibTorch's kernel for it).
    const at::Tensor x = at::zeros({8}, f32), step = at::ones({}, f32);
    EXPECT_THROW(zs::fused_adam_step(x, x.clone(), x.clone(), x.clone(), x.to(param_type), step,
                                     {kLr, kBeta1, kBeta2, kEps, weight_decay, false}, std::nullopt),
                 std::invalid_argument);
    return;
  }
  const std::optional<at::Tensor> divisor =
      divide ? std::optional<at::Tensor>(at::full({}, 3.5, f32)) : std::nullopt;
  const std::vector<int64_t> sizes{1, 3, 8, 13, 64, 1000, 4097, 65541, (1 << 20) + 8};
  // Element offsets of (master and moments, gradient, parameter) in their flat buffers: all aligned,
  // a common aligned head (4 elements in), and none (16-bit vectors never line up with the masters).
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> offsets{{0, 0, 0}, {4, 4, 4}, {4, 12, 20},
                                                                   {0, 8, 1}, {1, 3, 5}};
  Mismatches bad;
  at::manual_seed(11);
  for (int64_t n : sizes) {
    for (const auto& [mo, go, po] : offsets) {
      const int64_t pad = 24;
      const at::Tensor master_flat = at::randn({n + pad}, f32), m_flat = at::zeros({n + pad}, f32),
                       v_flat = at::zeros({n + pad}, f32);
      const at::Tensor grad_flat = at::randn({n + pad}, f32).to(grad_type);
      const at::Tensor param_flat = at::randn({n + pad}, f32).to(param_type);
      const at::Tensor master = master_flat.narrow(0, mo, n), m = m_flat.narrow(0, mo, n),
                       v = v_flat.narrow(0, mo, n), grad = grad_flat.narrow(0, go, n),
                       param = param_flat.narrow(0, po, n);
      const at::Tensor rmaster = master.clone(), rm = m.clone(), rv = v.clone();
      const at::Tensor step = at::zeros({}, f32), rstep = at::zeros({}, f32);
      const at::Tensor master_before = master_flat.clone(), grad_before = grad_flat.clone(),
                       param_before = param_flat.clone();
      const std::string where = "n " + std::to_string(n) + " offsets (" + std::to_string(mo) + "," +
                                std::to_string(go) + "," + std::to_string(po) + ")";
      for (int s = 1; s <= 4; ++s) {
        grad.copy_(at::randn({n}, f32) * 2.0);
        const double lr = kLr * s;  // a schedule: the rate changes between steps
        rstep.add_(1);
        step.add_(1);
        reference_step(rmaster, rm, rv, grad, rstep, lr, weight_decay, decoupled, divisor);
        zs::fused_adam_step(master, m, v, grad, param, step, {lr, kBeta1, kBeta2, kEps, weight_decay, decoupled},
                            divisor);
        const std::string at_step = where + " step " + std::to_string(s);
        bad.check(master, rmaster, at_step + " master");
        bad.check(m, rm, at_step + " exp_avg");
        bad.check(v, rv, at_step + " exp_avg_sq");
        bad.check(param, rmaster.to(param_type), at_step + " param");
      }
      // Nothing outside the slot changed; the gradient was only read.
      const auto outside = [&](const at::Tensor& now, const at::Tensor& before, int64_t off) {
        return same_bits(now.narrow(0, 0, off), before.narrow(0, 0, off)) &&
               same_bits(now.narrow(0, off + n, pad - off), before.narrow(0, off + n, pad - off));
      };
      EXPECT_TRUE(outside(master_flat, master_before, mo) && outside(param_flat, param_before, po))
          << where << ": values outside the slot changed";
      EXPECT_TRUE(outside(grad_flat, grad_before, go)) << where;
    }
  }
  const std::string name = std::string(decoupled ? "AdamW" : "Adam") + " " + dtype_name(param_type) + " params, " +
                           dtype_name(grad_type) + " grads, weight decay " + std::to_string(weight_decay) +
                           (divide ? ", divisor 3.5" : ", no divisor");
  if (bad.failed == 0)
    std::printf("[fused adam] %s: bit-identical to LibTorch's fused kernel + cast (%lld checks of master, exp_avg, "
                "exp_avg_sq, param; %zu sizes x %zu offsets x 4 steps)\n",
                name.c_str(), static_cast<long long>(bad.checks), sizes.size(), offsets.size());
  else
    std::printf("[fused adam] %s: %lld of %lld checks differ, worst fp32 difference %lld ulps; first: %s\n",
                name.c_str(), static_cast<long long>(bad.failed), static_cast<long long>(bad.checks),
                static_cast<long long>(bad.worst_ulps), bad.first.c_str());
  EXPECT_EQ(bad.failed, 0) << bad.first;
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, FusedAdamCuda,
    ::testing::Combine(::testing::Values(at::kBFloat16, at::kHalf), ::testing::Values(at::kBFloat16, at::kHalf, at::kFloat),
                       ::testing::Bool(), ::testing::Values(0.0, 0.1), ::testing::Bool()));

// A batch of slots (more than one launch holds; sizes and offsets as above, their own weight decays,
// some writing no parameter) against each slot stepped alone: the same bits, nothing else touched.
// All gradients bf16, all fp32, then mixed slots (bf16 and fp32 gradients, bf16 and fp16 parameters,
// as a stage-3 model reducing its units in fp32 hands over), which the call splits into batches.
TEST(FusedAdamBatch, MatchesOneSlotAtATimeBitForBit) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto f32 = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  for (const char* mode : {"bf16", "fp32", "mixed"}) {
    const bool mixed = std::string(mode) == "mixed";
    at::manual_seed(5);
    const std::vector<int64_t> sizes{0, 1, 3, 8, 13, 64, 1000, 4097, 65541, 300001};
    const std::vector<std::tuple<int64_t, int64_t, int64_t>> offsets{{0, 0, 0}, {4, 4, 4}, {4, 12, 20}, {1, 3, 5}};
    const int64_t pad = 24;
    struct Flat {
      at::Tensor master, m, v, grad, param;
    };
    std::vector<Flat> batch_flats, alone_flats;
    std::vector<zs::FusedAdamSlot> batch, alone;
    int index = 0;
    for (int64_t n : sizes) {
      for (const auto& [mo, go, po] : offsets) {
        for (int copy = 0; copy < 2; ++copy, ++index) {
          const auto grad_type = mixed ? (index % 2 ? at::kBFloat16 : at::kFloat)
                                       : (std::string(mode) == "bf16" ? at::kBFloat16 : at::kFloat);
          const auto param_type = mixed && index % 3 == 1 ? at::kHalf : at::kBFloat16;
          Flat f{at::randn({n + pad}, f32), at::randn({n + pad}, f32).abs(), at::randn({n + pad}, f32).abs(),
                 at::randn({n + pad}, f32).to(grad_type), at::randn({n + pad}, f32).to(param_type)};
          Flat g{f.master.clone(), f.m.clone(), f.v.clone(), f.grad.clone(), f.param.clone()};
          const double decay = index % 3 == 0 ? 0.0 : 0.01 * (index % 7);
          const bool writes_param = index % 5 != 0;
          const auto slot_of = [&](const Flat& x) {
            return zs::FusedAdamSlot{x.master.narrow(0, mo, n), x.m.narrow(0, mo, n), x.v.narrow(0, mo, n),
                                     x.grad.narrow(0, go, n),
                                     writes_param ? x.param.narrow(0, po, n) : at::Tensor(), decay};
          };
          batch.push_back(slot_of(f));
          alone.push_back(slot_of(g));
          batch_flats.push_back(f);
          alone_flats.push_back(g);
        }
      }
    }
    ASSERT_GT(batch.size(), size_t(2 * 32)) << "the batch must need several launches";
    const at::Tensor step = at::zeros({}, f32), divisor = at::full({}, 2.5, f32);
    for (int s = 1; s <= 3; ++s) {
      step.add_(1);
      const zs::FusedAdamHyper hyper{kLr * s, kBeta1, kBeta2, kEps, 0.0, true};
      zs::fused_adam_step(batch, step, hyper, divisor);
      for (const zs::FusedAdamSlot& a : alone) {
        zs::fused_adam_step(a.master, a.exp_avg, a.exp_avg_sq, a.grad, a.param, step,
                            {hyper.lr, kBeta1, kBeta2, kEps, a.weight_decay, true}, divisor);
      }
    }
    int64_t differing = 0;
    for (size_t i = 0; i < batch_flats.size(); ++i) {
      const Flat &f = batch_flats[i], &g = alone_flats[i];
      differing += !same_bits(f.master, g.master) + !same_bits(f.m, g.m) + !same_bits(f.v, g.v) +
                   !same_bits(f.grad, g.grad) + !same_bits(f.param, g.param);
    }
    EXPECT_EQ(differing, 0) << "flat buffers differing between the batch and one slot at a time";
    std::printf("[fused adam] batch of %zu slots (%s grads, 3 steps): %s one slot at a time\n", batch.size(), mode,
                differing == 0 ? "same bits as" : "DIFFERS from");
  }
}

// Through the optimizer: several slots with their own weight decays, masters inside one flat buffer.
TEST(FusedAdamOptimizer, Step16BitMatchesStepSlotsAndCopy) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto f32 = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  for (const bool adamw : {false, true}) {
    zs::OptimizerConfig config;
    config.type = adamw ? "AdamW" : "Adam";
    config.adam_w_mode = adamw;
    config.lr = kLr;
    config.beta1 = kBeta1;
    config.beta2 = kBeta2;
    config.eps = kEps;
    auto fused = zs::make_optimizer(config), reference = zs::make_optimizer(config);
    const std::vector<int64_t> sizes{1001, 7, 300000};
    // Adam with L2 decay is declined (the kernel refuses it; LibTorch's kernel takes that case).
    const std::vector<double> decays = adamw ? std::vector<double>{0.0, 0.1, 0.01} : std::vector<double>{0.0, 0.0, 0.0};
    const at::Tensor flat = at::randn({310000}, f32);
    std::vector<at::Tensor> masters, ref_masters, params, ref_params;
    int64_t offset = 3;
    for (size_t i = 0; i < sizes.size(); ++i) {
      masters.push_back(flat.narrow(0, offset, sizes[i]));
      offset += sizes[i] + 5;
      ref_masters.push_back(masters.back().clone());
      params.push_back(masters.back().to(at::kBFloat16));
      ref_params.push_back(params.back().clone());
      fused->add_param(masters.back(), decays[i]);
      reference->add_param(ref_masters.back(), decays[i]);
    }
    ASSERT_TRUE(fused->has_fused_16bit_step());
    if (!adamw) {
      auto with_decay = zs::make_optimizer(config);
      with_decay->add_param(at::zeros({8}, f32), 0.0);
      with_decay->add_param(at::zeros({8}, f32), 0.1);
      EXPECT_FALSE(with_decay->has_fused_16bit_step()) << "Adam with L2 decay must keep LibTorch's kernel";
    }
    const std::vector<int> slots{0, 1, 2};
    for (int s = 0; s < 3; ++s) {
      std::vector<at::Tensor> grads, grads32;
      for (int64_t n : sizes) {
        grads.push_back((at::randn({n}, f32) * 100).to(at::kBFloat16));
        grads32.push_back(grads.back().to(at::kFloat));
      }
      const at::Tensor divisor = at::full({}, 100.0, f32);
      fused->begin_step();
      fused->step_slots_16bit(slots, grads, params, kLr / (s + 1), divisor);
      reference->begin_step();
      reference->step_slots(slots, grads32, kLr / (s + 1), divisor);
      for (size_t i = 0; i < sizes.size(); ++i) {
        ref_params[i].copy_(ref_masters[i]);
        const std::string what = std::string(adamw ? "AdamW" : "Adam") + " slot " + std::to_string(i) + " step " +
                                 std::to_string(s + 1);
        EXPECT_TRUE(same_bits(masters[i], ref_masters[i])) << what << " master";
        EXPECT_TRUE(same_bits(params[i], ref_params[i])) << what << " param";
        EXPECT_TRUE(same_bits(fused->state(int(i)).at("exp_avg"), reference->state(int(i)).at("exp_avg"))) << what;
        EXPECT_TRUE(same_bits(fused->state(int(i)).at("exp_avg_sq"), reference->state(int(i)).at("exp_avg_sq")))
            << what;
      }
    }
  }
  std::printf("[fused adam] optimizer step_slots_16bit: same bits as step_slots + copy_ (Adam, AdamW; 3 slots)\n");
}

// Not a timed test: one line with both paths' time on a 64M-element slot (bf16, AdamW).
TEST(FusedAdamTiming, PrintsBothPaths) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto f32 = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  const int64_t n = int64_t(64) << 20;
  const at::Tensor master = at::randn({n}, f32), m = at::zeros({n}, f32), v = at::zeros({n}, f32),
                   grad = at::randn({n}, f32).to(at::kBFloat16), param = master.to(at::kBFloat16),
                   step = at::zeros({}, f32), divisor = at::full({}, 2.0, f32);
  using zs::testing::gpu_time_ms;
  const double three_passes = gpu_time_ms([&] {
    step.add_(1);
    reference_step(master, m, v, grad, step, kLr, 0.1, true, divisor);
    param.copy_(master);
  });
  const double fused = gpu_time_ms([&] {
    step.add_(1);
    zs::fused_adam_step(master, m, v, grad, param, step, {kLr, kBeta1, kBeta2, kEps, 0.1, true}, divisor);
  });
  std::printf("[fused adam] 64M bf16 elements, AdamW: convert + _fused_adamw_ + copy %.3f ms, fused %.3f ms (%.2fx)\n",
              three_passes, fused, three_passes / fused);
}

}  // namespace

namespace {
// Not a timed test: the batched step's bandwidth (16 slots of 32M elements, bf16 gradients, with
// and without parameters) beside a plain copy of as many bytes, the ceiling it is measured against.
TEST(FusedAdamTiming, BatchBandwidthBesideACopy) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU";
  const auto f32 = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  const int64_t n = int64_t(32) << 20, count = 16;
  const at::Tensor master = at::randn({n * count}, f32), m = at::zeros({n * count}, f32),
                   v = at::zeros({n * count}, f32), grad = at::randn({n * count}, f32).to(at::kBFloat16),
                   param = master.to(at::kBFloat16), step = at::zeros({}, f32), divisor = at::full({}, 2.0, f32);
  std::vector<zs::FusedAdamSlot> slots, slots_no_param;
  for (int64_t s = 0; s < count; ++s) {
    slots.push_back({master.narrow(0, s * n, n), m.narrow(0, s * n, n), v.narrow(0, s * n, n),
                     grad.narrow(0, s * n, n), param.narrow(0, s * n, n), 0.1});
    slots_no_param.push_back({master.narrow(0, s * n, n), m.narrow(0, s * n, n), v.narrow(0, s * n, n),
                              grad.narrow(0, s * n, n), at::Tensor(), 0.1});
  }
  using zs::testing::gpu_time_ms;
  const double elements = double(n * count);
  const auto time_step = [&](const std::vector<zs::FusedAdamSlot>& batch) {
    return gpu_time_ms([&] {
      step.add_(1);
      zs::fused_adam_step(batch, step, {kLr, kBeta1, kBeta2, kEps, 0.1, true}, divisor);
    }, 5);
  };
  const double with_param = time_step(slots), without = time_step(slots_no_param);
  // 28 bytes an element with the parameter (grad 2, master and moments 12 read and 12 written, parameter 2).
  const at::Tensor src = at::empty({int64_t(elements * 14 / 4)}, f32), dst = at::empty_like(src);
  const double copy = gpu_time_ms([&] { dst.copy_(src); }, 5);
  std::printf("[fused adam] %.0fM elements, AdamW: with parameters %.2f ms (%.2f TB/s), without %.2f ms (%.2f TB/s); "
              "a copy of %.1f GB read + written %.2f ms (%.2f TB/s)\n",
              elements / 1e6, with_param, elements * 28 / with_param / 1e9, without, elements * 26 / without / 1e9,
              elements * 28 / 1e9, copy, elements * 28 / copy / 1e9);
}
}  // namespace
