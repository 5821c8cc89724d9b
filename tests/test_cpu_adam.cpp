// The fused CPU Adam against LibTorch: at::_fused_adamw_/_fused_adam_ (bit for bit) and
// torch::optim::AdamW/Adam (to fp32 rounding), every SIMD flavour this CPU has, any thread count,
// 16-bit grads and 16-bit param copies, odd sizes, and the argument checks.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ATen/ops/_fused_adam.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include "zs/optim/cpu_adam.hpp"

namespace zs::test_cpu_adam {
namespace {

std::vector<CpuIsa> supported_isas() {
  std::vector<CpuIsa> out;
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512})
    if (cpu_isa_supported(isa)) out.push_back(isa);
  return out;
}

// Parameters and optimizer state of one run.
struct State {
  at::Tensor param, exp_avg, exp_avg_sq;
  explicit State(const at::Tensor& init)
      : param(init.clone()), exp_avg(at::zeros_like(init)), exp_avg_sq(at::zeros_like(init)) {}
};

// Grads for `steps` steps, in a spread of magnitudes (some tiny, some large).
std::vector<at::Tensor> make_grads(int64_t n, int steps, uint64_t seed, double scale = 1.0) {
  at::manual_seed(seed);
  std::vector<at::Tensor> grads;
  for (int s = 0; s < steps; ++s) {
    auto g = at::randn({n}) * at::exp(at::randn({n}) * 2.0) * scale;
    grads.push_back(g);
  }
  return grads;
}

void our_step(State& s, const at::Tensor& grad, const AdamHyper& h, int64_t step, double divisor, CpuIsa isa,
              int threads, const at::Tensor& param16 = {}) {
  CpuAdamArgs a;
  a.numel = s.param.numel();
  a.param = s.param.data_ptr<float>();
  a.grad = grad.const_data_ptr();
  a.grad_dtype = grad.scalar_type() == at::kFloat      ? CpuDtype::kFloat32
                 : grad.scalar_type() == at::kBFloat16 ? CpuDtype::kBFloat16
                                                       : CpuDtype::kFloat16;
  a.exp_avg = s.exp_avg.data_ptr<float>();
  a.exp_avg_sq = s.exp_avg_sq.data_ptr<float>();
  if (param16.defined()) {
    a.param16 = param16.data_ptr();
    a.param16_dtype = param16.scalar_type() == at::kBFloat16 ? CpuDtype::kBFloat16 : CpuDtype::kFloat16;
  }
  a.hyper = h;
  a.step = step;
  a.grad_divisor = divisor;
  a.threads = threads;
  cpu_adam_step_with_isa(a, isa);
}

// LibTorch's fused CPU kernel; it divides the grad in place, so it gets a copy.
void torch_fused_step(State& s, const at::Tensor& grad, const AdamHyper& h, int64_t step, double divisor) {
  at::Tensor g = grad.to(at::kFloat).clone();
  at::Tensor step_t = at::full({}, static_cast<double>(step), at::kFloat);
  std::optional<at::Tensor> scale;
  if (divisor != 1.0) scale = at::full({}, divisor, at::kFloat);
  if (h.decoupled) {
    at::_fused_adamw_({s.param}, {g}, {s.exp_avg}, {s.exp_avg_sq}, {}, {step_t}, h.lr, h.beta1, h.beta2,
                      h.weight_decay, h.eps, false, false, scale);
  } else {
    at::_fused_adam_({s.param}, {g}, {s.exp_avg}, {s.exp_avg_sq}, {}, {step_t}, h.lr, h.beta1, h.beta2,
                     h.weight_decay, h.eps, false, false, scale);
  }
}

// max |a - b| / max |b|: the difference relative to the tensor's scale (an element-wise ratio
// is meaningless for values that cross zero).
double max_rel_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a - b).abs().max().item<double>() / b.abs().max().clamp_min(1e-30).item<double>();
}

// LibTorch's kernel runs its vector loop over the first n - n % 16 elements (16 or 8 lanes) and a
// scalar loop over the rest, which its build rounds differently (exp_avg_sq's multiply-add is not
// fused there); ours takes one path for every element. So: the vector body bit for bit, the
// scalar tail to fp32 rounding.
void expect_matches_torch(const at::Tensor& ours, const at::Tensor& ref, const char* what) {
  SCOPED_TRACE(what);
  const int64_t n = ours.numel();
  const int64_t body = n - n % 16;
  EXPECT_TRUE(at::equal(ours.slice(0, 0, body), ref.slice(0, 0, body)))
      << "max rel diff over the vector body " << max_rel_diff(ours.slice(0, 0, body), ref.slice(0, 0, body));
  EXPECT_LE(max_rel_diff(ours, ref), 1e-6);
}

void expect_matches_torch(const State& ours, const State& ref) {
  expect_matches_torch(ours.param, ref.param, "param");
  expect_matches_torch(ours.exp_avg, ref.exp_avg, "exp_avg");
  expect_matches_torch(ours.exp_avg_sq, ref.exp_avg_sq, "exp_avg_sq");
}

struct Case {
  std::string name;
  AdamHyper hyper;
  double divisor;
  at::ScalarType grad_dtype;
};

std::vector<Case> cases() {
  AdamHyper adamw;  // defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay
  adamw.lr = 3e-3;
  AdamHyper adamw_wd = adamw;
  adamw_wd.weight_decay = 0.1;
  AdamHyper adam_l2 = adamw_wd;
  adam_l2.decoupled = false;
  AdamHyper odd = adamw_wd;  // beta1 with 1 - beta1 >= 0.5 takes lerp's other form
  odd.beta1 = 0.3;
  odd.beta2 = 0.95;
  odd.eps = 1e-6;
  return {{"adamw", adamw, 1.0, at::kFloat},
          {"adamw_wd", adamw_wd, 1.0, at::kFloat},
          {"adam_l2", adam_l2, 1.0, at::kFloat},
          {"adamw_divisor", adamw_wd, 1024.0, at::kFloat},
          {"adam_l2_divisor", adam_l2, 3.7, at::kFloat},
          {"adamw_bf16_grad", adamw_wd, 1.0, at::kBFloat16},
          {"adamw_fp16_grad_divisor", adamw_wd, 8.0, at::kHalf},
          {"adam_l2_bf16_grad", adam_l2, 1.0, at::kBFloat16},
          {"small_beta1", odd, 2.0, at::kFloat}};
}

// 20 steps of each case, every flavour, against LibTorch's fused CPU kernel: bit for bit where
// LibTorch vectorizes (all of it for n = 4096), to fp32 rounding in its scalar tail (n = 4099).
TEST(CpuAdam, MatchesTorchFusedKernelBitForBit) {
  for (int64_t n : {4096, 4099}) {
    for (const Case& c : cases()) {
    // Grads come pre-multiplied by the divisor, as a loss-scaled gradient would (and within
    // fp16's range, as a loss scaler keeps them).
    auto grads = make_grads(n, 20, 11, c.divisor);
    for (at::Tensor& g : grads) g = g.clamp(-6e4, 6e4);
    for (CpuIsa isa : supported_isas()) {
      SCOPED_TRACE(c.name + " / " + cpu_isa_name(isa) + " / n " + std::to_string(n));
      at::manual_seed(7);
      const at::Tensor init = at::randn({n});
      State ours(init), ref(init);
      for (int s = 0; s < 20; ++s) {
        const at::Tensor g = grads[s].to(c.grad_dtype);
        our_step(ours, g, c.hyper, s + 1, c.divisor, isa, 2);
        torch_fused_step(ref, g, c.hyper, s + 1, c.divisor);
      }
      expect_matches_torch(ours, ref);
      }
    }
  }
}

// Against the C++ frontend's (unfused) optimizers: the same math, rounded a little differently.
TEST(CpuAdam, MatchesTorchOptimAdamWAndAdam) {
  const int64_t n = 1000;
  for (bool decoupled : {true, false}) {
    for (double weight_decay : {0.0, 0.05}) {
      SCOPED_TRACE(std::string(decoupled ? "AdamW" : "Adam") + " wd " + std::to_string(weight_decay));
      AdamHyper h;
      h.lr = 1e-2;
      h.beta1 = 0.85;
      h.beta2 = 0.99;
      h.eps = 1e-7;
      h.weight_decay = weight_decay;
      h.decoupled = decoupled;
      at::manual_seed(3);
      const at::Tensor init = at::randn({n});
      State ours(init);
      at::Tensor ref = init.clone().set_requires_grad(true);
      std::unique_ptr<torch::optim::Optimizer> opt;
      if (decoupled) {
        opt = std::make_unique<torch::optim::AdamW>(
            std::vector<at::Tensor>{ref}, torch::optim::AdamWOptions(h.lr)
                                              .betas({h.beta1, h.beta2})
                                              .eps(h.eps)
                                              .weight_decay(h.weight_decay));
      } else {
        opt = std::make_unique<torch::optim::Adam>(
            std::vector<at::Tensor>{ref}, torch::optim::AdamOptions(h.lr)
                                              .betas({h.beta1, h.beta2})
                                              .eps(h.eps)
                                              .weight_decay(h.weight_decay));
      }
      const auto grads = make_grads(n, 20, 5);
      for (int s = 0; s < 20; ++s) {
        our_step(ours, grads[s], h, s + 1, 1.0, cpu_adam_isa(), 1);
        ref.mutable_grad() = grads[s].clone();
        opt->step();
      }
      const at::Tensor expected = ref.detach();
      EXPECT_LE(max_rel_diff(ours.param, expected), 1e-6);
      const auto& state = *opt->state().begin()->second;
      const at::Tensor exp_avg = decoupled ? static_cast<const torch::optim::AdamWParamState&>(state).exp_avg()
                                           : static_cast<const torch::optim::AdamParamState&>(state).exp_avg();
      EXPECT_LE(max_rel_diff(ours.exp_avg, exp_avg), 1e-6);
    }
  }
}

// The 16-bit copy written on the way equals param.to(bf16/fp16) exactly, for every flavour.
TEST(CpuAdam, Param16CopyEqualsTorchConversion) {
  for (at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    for (CpuIsa isa : supported_isas()) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " / " + cpu_isa_name(isa));
      const int64_t n = 5003;
      at::manual_seed(9);
      // Values spread over many binades, including ones near the rounding midpoints.
      State s(at::randn({n}) * at::exp(at::randn({n}) * 3.0));
      at::Tensor copy = at::empty({n}, dtype);
      AdamHyper h;
      h.weight_decay = 0.01;
      const auto grads = make_grads(n, 3, 21);
      for (int step = 1; step <= 3; ++step) {
        our_step(s, grads[step - 1], h, step, 1.0, isa, 2, copy);
        EXPECT_TRUE(at::equal(copy, s.param.to(dtype)));
      }
    }
  }
}

// Round to nearest even on exact ties, both directions, plus signed zero and infinity.
TEST(CpuAdam, Bf16CopyRoundsTiesToEven) {
  // lr = 0 leaves the param unchanged, so the copy is just the conversion of these values.
  std::vector<uint32_t> bits = {0x3F808000u, 0x3F818000u, 0x3F80C000u, 0x3F807FFFu, 0xBF818000u,
                                0x80000000u, 0x7F800000u, 0x7F7FFFFFu, 0x00000001u, 0x3F800000u};
  while (bits.size() < 37) bits.push_back(0x3F808000u + static_cast<uint32_t>(bits.size()) * 0x8000u);
  const int64_t n = static_cast<int64_t>(bits.size());
  at::Tensor values = at::empty({n}, at::kFloat);
  std::memcpy(values.data_ptr<float>(), bits.data(), n * 4);
  for (CpuIsa isa : supported_isas()) {
    SCOPED_TRACE(cpu_isa_name(isa));
    State s(values);
    at::Tensor copy = at::empty({n}, at::kBFloat16);
    AdamHyper h;
    h.lr = 0.0;
    our_step(s, at::zeros({n}), h, 1, 1.0, isa, 1, copy);
    EXPECT_TRUE(at::equal(s.param, values));
    EXPECT_TRUE(at::equal(copy, values.to(at::kBFloat16)));
  }
}

// Every flavour gives the same bits for every grad type and copy type, at sizes around the
// vector widths; n = 0 is a no-op.
TEST(CpuAdam, AllFlavoursIdenticalAtOddSizes) {
  const auto isas = supported_isas();
  AdamHyper h;
  h.weight_decay = 0.1;
  for (int64_t n : {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1037}) {
    for (at::ScalarType grad_dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
      for (int copy_kind = 0; copy_kind < 3; ++copy_kind) {
        SCOPED_TRACE("n " + std::to_string(n) + " grad " + c10::toString(grad_dtype) + " copy " +
                     std::to_string(copy_kind));
        at::manual_seed(n);
        const at::Tensor init = at::randn({n});
        const auto grads = make_grads(n, 3, 100 + n);
        std::vector<State> states;
        std::vector<at::Tensor> copies;
        for (CpuIsa isa : isas) {
          State s(init);
          at::Tensor copy;
          if (copy_kind == 1) copy = at::empty({n}, at::kBFloat16);
          if (copy_kind == 2) copy = at::empty({n}, at::kHalf);
          for (int step = 1; step <= 3; ++step)
            our_step(s, grads[step - 1].to(grad_dtype), h, step, 2.0, isa, 1, copy);
          states.push_back(s);
          copies.push_back(copy);
        }
        // Against LibTorch too, so a shared mistake in the tail handling cannot hide.
        State ref(init);
        for (int step = 1; step <= 3; ++step) torch_fused_step(ref, grads[step - 1].to(grad_dtype), h, step, 2.0);
        for (size_t k = 0; k < isas.size(); ++k) {
          SCOPED_TRACE(cpu_isa_name(isas[k]));
          expect_matches_torch(states[k], ref);
          EXPECT_TRUE(at::equal(states[k].param, states[0].param));
          EXPECT_TRUE(at::equal(states[k].exp_avg, states[0].exp_avg));
          EXPECT_TRUE(at::equal(states[k].exp_avg_sq, states[0].exp_avg_sq));
          if (copy_kind != 0) EXPECT_TRUE(at::equal(copies[k], states[k].param.to(copies[k].scalar_type())));
        }
      }
    }
  }
}

// Arrays that start off any vector boundary (views one element in) give the same bits; the
// 16-bit copy then takes the ordinary-store path instead of the streaming one.
TEST(CpuAdam, UnalignedArraysGiveSameResults) {
  const int64_t n = 70001;
  at::manual_seed(6);
  const at::Tensor init = at::randn({n});
  const auto grads = make_grads(n, 2, 13);
  AdamHyper h;
  h.weight_decay = 0.1;
  for (CpuIsa isa : supported_isas()) {
    SCOPED_TRACE(cpu_isa_name(isa));
    State aligned(init);
    at::Tensor copy = at::empty({n}, at::kBFloat16);
    State shifted(init);
    for (at::Tensor* t : {&shifted.param, &shifted.exp_avg, &shifted.exp_avg_sq}) {
      at::Tensor storage = at::empty({n + 1});
      storage.slice(0, 1).copy_(*t);
      *t = storage.slice(0, 1);
    }
    at::Tensor shifted_copy = at::empty({n + 1}, at::kBFloat16).slice(0, 1);
    for (int step = 1; step <= 2; ++step) {
      at::Tensor g = at::empty({n + 1}).slice(0, 1);
      g.copy_(grads[step - 1]);
      our_step(aligned, grads[step - 1], h, step, 1.0, isa, 2, copy);
      our_step(shifted, g, h, step, 1.0, isa, 2, shifted_copy);
    }
    EXPECT_TRUE(at::equal(aligned.param, shifted.param));
    EXPECT_TRUE(at::equal(aligned.exp_avg_sq, shifted.exp_avg_sq));
    EXPECT_TRUE(at::equal(copy, shifted_copy));
  }
}

// Splitting the range over threads changes nothing: element-wise update, 16-aligned slices.
TEST(CpuAdam, ThreadCountDoesNotChangeResults) {
  const int64_t n = 300007;
  at::manual_seed(4);
  const at::Tensor init = at::randn({n});
  const auto grads = make_grads(n, 3, 8);
  AdamHyper h;
  h.weight_decay = 0.1;
  for (CpuIsa isa : supported_isas()) {
    SCOPED_TRACE(cpu_isa_name(isa));
    State one(init);
    at::Tensor copy_one = at::empty({n}, at::kBFloat16);
    for (int step = 1; step <= 3; ++step) our_step(one, grads[step - 1], h, step, 1.0, isa, 1, copy_one);
    for (int threads : {2, 3, 8}) {
      SCOPED_TRACE("threads " + std::to_string(threads));
      State many(init);
      at::Tensor copy_many = at::empty({n}, at::kBFloat16);
      for (int step = 1; step <= 3; ++step) our_step(many, grads[step - 1], h, step, 1.0, isa, threads, copy_many);
      EXPECT_TRUE(at::equal(one.param, many.param));
      EXPECT_TRUE(at::equal(one.exp_avg, many.exp_avg));
      EXPECT_TRUE(at::equal(one.exp_avg_sq, many.exp_avg_sq));
      EXPECT_TRUE(at::equal(copy_one, copy_many));
    }
  }
}

// The tensor wrapper: same result as the raw kernel, and clear errors for bad arguments.
TEST(CpuAdam, TensorWrapperRunsAndChecksArguments) {
  const int64_t n = 333;
  at::manual_seed(2);
  const at::Tensor init = at::randn({n});
  const at::Tensor grad = at::randn({n}).to(at::kBFloat16);
  AdamHyper h;
  h.weight_decay = 0.02;
  State a(init), b(init);
  at::Tensor copy = at::empty({n}, at::kHalf);
  cpu_adam_step(a.param, grad, a.exp_avg, a.exp_avg_sq, copy, h, 1, 4.0, 0);
  our_step(b, grad, h, 1, 4.0, cpu_adam_isa(), 1);
  EXPECT_TRUE(at::equal(a.param, b.param));
  EXPECT_TRUE(at::equal(copy, b.param.to(at::kHalf)));
  cpu_adam_step(a.param, grad, a.exp_avg, a.exp_avg_sq, std::nullopt, h, 2, 1.0, 2);

  auto expect_error = [&](auto&& call, const std::string& fragment) {
    try {
      call();
      ADD_FAILURE() << "no error; expected one mentioning '" << fragment << "'";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  State s(init);
  expect_error([&] { cpu_adam_step(s.param, at::randn({n + 1}), s.exp_avg, s.exp_avg_sq, {}, h, 1, 1.0, 1); },
               "grad has 334 elements");
  expect_error([&] { cpu_adam_step(s.param.to(at::kDouble), grad, s.exp_avg, s.exp_avg_sq, {}, h, 1, 1.0, 1); },
               "param must be float32");
  expect_error([&] { cpu_adam_step(s.param, grad.to(at::kDouble), s.exp_avg, s.exp_avg_sq, {}, h, 1, 1.0, 1); },
               "grad must be float32, bfloat16 or float16");
  expect_error([&] {
    cpu_adam_step(s.param, at::randn({n, 2}).select(1, 0), s.exp_avg, s.exp_avg_sq, {}, h, 1, 1.0, 1);
  }, "grad must be contiguous");
  expect_error([&] { cpu_adam_step(s.param, grad, s.exp_avg, s.exp_avg_sq, at::empty({n}), h, 1, 1.0, 1); },
               "param16_out must be bfloat16 or float16");
  expect_error([&] { cpu_adam_step(s.param, grad, s.exp_avg, s.exp_avg_sq, {}, h, 0, 1.0, 1); },
               "step must be >= 1");
  expect_error([&] { cpu_adam_step(s.param, grad, s.exp_avg, s.exp_avg_sq, {}, h, 1, 0.0, 1); },
               "grad_divisor must be a positive finite number");
}

// ZS_CPU_ADAM_ISA forces a flavour; an unknown name is an error naming the choices.
TEST(CpuAdam, IsaEnvironmentVariable) {
  for (CpuIsa isa : supported_isas()) {
    setenv("ZS_CPU_ADAM_ISA", cpu_isa_name(isa), 1);
    EXPECT_EQ(cpu_adam_isa(), isa);
  }
  setenv("ZS_CPU_ADAM_ISA", "sse9", 1);
  try {
    cpu_adam_isa();
    ADD_FAILURE() << "no error for ZS_CPU_ADAM_ISA=sse9";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("scalar, avx2, avx512"), std::string::npos) << e.what();
  }
  unsetenv("ZS_CPU_ADAM_ISA");
  // Unset: the best this CPU has.
  EXPECT_EQ(cpu_adam_isa(), supported_isas().back());
}

TEST(CpuAdam, DefaultThreadsDividesCoresAmongLocalRanks) {
  unsetenv("LOCAL_WORLD_SIZE");
  const int all = default_cpu_threads();
  EXPECT_GE(all, 1);
  setenv("LOCAL_WORLD_SIZE", "2", 1);
  EXPECT_EQ(default_cpu_threads(), std::max(1, all / 2));
  setenv("LOCAL_WORLD_SIZE", "1000000", 1);
  EXPECT_EQ(default_cpu_threads(), 1);
  setenv("OMP_NUM_THREADS", "1", 1);  // ignored on purpose
  unsetenv("LOCAL_WORLD_SIZE");
  EXPECT_EQ(default_cpu_threads(), all);
  unsetenv("OMP_NUM_THREADS");
}

}  // namespace
}  // namespace zs::test_cpu_adam
