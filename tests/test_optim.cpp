// Optimizers against LibTorch's own torch::optim::Adam / AdamW / SGD / Adagrad (Lion against the
// rule written out here), step by step; Lion and Adagrad piece by piece as offload runs them.
#include <gtest/gtest.h>

#include <ATen/Context.h>
#include <ATen/Functions.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "zs/optim/host_optimizer.hpp"
#include "zs/optim/lr_scheduler.hpp"
#include "zs/optim/optimizer.hpp"

namespace test_optim {

namespace {

constexpr int kSteps = 20;
const std::vector<int64_t> kSizes = {1000, 37, 4096};

// The lr for step `s`: varies so a wrong lr plumbing shows.
double lr_at(int s) { return 1e-2 * (1.0 + 0.5 * std::sin(0.7 * s)); }

std::vector<at::Tensor> random_params(uint64_t seed) {
  at::manual_seed(seed);
  std::vector<at::Tensor> out;
  for (int64_t n : kSizes) out.push_back(at::randn({n}));
  return out;
}

std::vector<at::Tensor> random_grads(int step) {
  at::manual_seed(1000 + step);
  std::vector<at::Tensor> out;
  for (int64_t n : kSizes) out.push_back(at::randn({n}) * 0.1);
  return out;
}

// Relative difference of two tensor lists: max |a-b| / max |b|.
double rel_diff(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, (a[i] - b[i]).abs().max().item<double>());
    den = std::max(den, b[i].abs().max().item<double>());
  }
  return num / den;
}

std::vector<at::Tensor> clones(const std::vector<at::Tensor>& ts) {
  std::vector<at::Tensor> out;
  for (const auto& t : ts) out.push_back(t.clone());
  return out;
}

// A reference torch optimizer per slot (each slot has its own weight decay).
using MakeReference = std::function<std::unique_ptr<torch::optim::Optimizer>(at::Tensor, double wd)>;
using SetReferenceLr = std::function<void(torch::optim::Optimizer&, double lr)>;

template <typename Options>
SetReferenceLr set_lr_of() {
  return [](torch::optim::Optimizer& o, double lr) {
    for (auto& group : o.param_groups()) static_cast<Options&>(group.options()).lr(lr);
  };
}

// Runs ours and the reference side by side for kSteps and returns the final relative difference.
// Slot i gets weight decay decays[i]. `divisor` is passed to our step with grads pre-multiplied.
double compare_with_reference(const zs::OptimizerConfig& config, const MakeReference& make_ref,
                              const SetReferenceLr& set_lr, const std::vector<double>& decays,
                              double divisor = 1.0) {
  auto ours = zs::make_optimizer(config);
  std::vector<at::Tensor> mine = random_params(7);
  std::vector<at::Tensor> theirs = clones(mine);
  std::vector<std::unique_ptr<torch::optim::Optimizer>> refs;
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(ours->add_param(mine[i], decays[i]), static_cast<int>(i));
    theirs[i].set_requires_grad(true);
    refs.push_back(make_ref(theirs[i], decays[i]));
  }
  for (int s = 0; s < kSteps; ++s) {
    std::vector<at::Tensor> grads = random_grads(s);
    std::vector<at::Tensor> scaled;
    for (const auto& g : grads) scaled.push_back(g * divisor);
    ours->step(scaled, lr_at(s), divisor);
    for (size_t i = 0; i < refs.size(); ++i) {
      theirs[i].mutable_grad() = grads[i].clone();
      set_lr(*refs[i], lr_at(s));
      refs[i]->step();
    }
  }
  EXPECT_EQ(ours->steps(), kSteps);
  std::vector<at::Tensor> theirs_data;
  for (auto& t : theirs) theirs_data.push_back(t.detach());
  return rel_diff(mine, theirs_data);
}

zs::OptimizerConfig adam_config(const std::string& type, bool adam_w_mode) {
  zs::OptimizerConfig c;
  c.type = type;
  c.adam_w_mode = adam_w_mode;
  c.beta1 = 0.85;
  c.beta2 = 0.99;
  c.eps = 1e-7;
  return c;
}

MakeReference torch_adam(const zs::OptimizerConfig& c) {
  return [c](at::Tensor p, double wd) {
    auto o = torch::optim::AdamOptions(c.lr).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(wd);
    return std::make_unique<torch::optim::Adam>(std::vector<at::Tensor>{p}, o);
  };
}

MakeReference torch_adamw(const zs::OptimizerConfig& c) {
  return [c](at::Tensor p, double wd) {
    auto o = torch::optim::AdamWOptions(c.lr).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(wd);
    return std::make_unique<torch::optim::AdamW>(std::vector<at::Tensor>{p}, o);
  };
}

MakeReference torch_sgd(const zs::OptimizerConfig& c) {
  return [c](at::Tensor p, double wd) {
    auto o = torch::optim::SGDOptions(c.lr).momentum(c.momentum).dampening(c.dampening)
                 .nesterov(c.nesterov).weight_decay(wd);
    return std::make_unique<torch::optim::SGD>(std::vector<at::Tensor>{p}, o);
  };
}

constexpr double kTolerance = 1e-6;

}  // namespace

TEST(Optimizer, AdamL2MatchesTorchAdam) {
  auto c = adam_config("Adam", /*adam_w_mode=*/false);
  EXPECT_LT(compare_with_reference(c, torch_adam(c), set_lr_of<torch::optim::AdamOptions>(),
                                   {0.0, 0.05, 0.2}),
            kTolerance);
}

TEST(Optimizer, AdamWMatchesTorchAdamW) {
  auto c = adam_config("AdamW", true);
  EXPECT_LT(compare_with_reference(c, torch_adamw(c), set_lr_of<torch::optim::AdamWOptions>(),
                                   {0.1, 0.0, 0.3}),
            kTolerance);
}

TEST(Optimizer, AdamWithAdamWModeIsAdamW) {
  auto c = adam_config("Adam", /*adam_w_mode=*/true);
  EXPECT_EQ(zs::make_optimizer(c)->name(), "AdamW");
  EXPECT_LT(compare_with_reference(c, torch_adamw(c), set_lr_of<torch::optim::AdamWOptions>(),
                                   {0.1, 0.1, 0.0}),
            kTolerance);
}

TEST(Optimizer, AdamWithGradDivisor) {
  auto c = adam_config("AdamW", true);
  // A power of two keeps g*d/d exact; 3.7 checks the divisor is applied at all.
  for (double divisor : {1024.0, 3.7}) {
    EXPECT_LT(compare_with_reference(c, torch_adamw(c), set_lr_of<torch::optim::AdamWOptions>(),
                                     {0.1, 0.0, 0.3}, divisor),
              kTolerance)
        << "divisor " << divisor;
  }
}

TEST(Optimizer, GradDivisorIsTheSameAsDividingFirst) {
  // Folding the division into the kernel must give bit-identical weights to grad.div_(d) first.
  for (const char* type : {"AdamW", "SGD"}) {
    zs::OptimizerConfig c = adam_config(type, true);
    c.momentum = 0.9;
    auto folded = zs::make_optimizer(c);
    auto divided = zs::make_optimizer(c);
    std::vector<at::Tensor> a = random_params(3), b = clones(a);
    for (size_t i = 0; i < a.size(); ++i) {
      folded->add_param(a[i], 0.01);
      divided->add_param(b[i], 0.01);
    }
    const double divisor = 3.7;
    for (int s = 0; s < 5; ++s) {
      std::vector<at::Tensor> g1 = random_grads(s), g2 = clones(g1);
      folded->step(g1, 1e-2, divisor);
      for (auto& g : g2) g.div_(divisor);
      divided->step(g2, 1e-2, 1.0);
    }
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << type << " slot " << i;
  }
}

TEST(Optimizer, SgdMomentumDampeningMatchesTorch) {
  zs::OptimizerConfig c;
  c.type = "SGD";
  c.momentum = 0.9;
  c.dampening = 0.1;
  EXPECT_LT(compare_with_reference(c, torch_sgd(c), set_lr_of<torch::optim::SGDOptions>(),
                                   {0.0, 0.01, 0.1}),
            kTolerance);
}

TEST(Optimizer, SgdNesterovMatchesTorch) {
  zs::OptimizerConfig c;
  c.type = "SGD";
  c.momentum = 0.8;
  c.nesterov = true;
  EXPECT_LT(compare_with_reference(c, torch_sgd(c), set_lr_of<torch::optim::SGDOptions>(),
                                   {0.01, 0.0, 0.05}, 8.0),
            kTolerance);
}

TEST(Optimizer, PlainSgdMatchesTorchAndHasNoState) {
  zs::OptimizerConfig c;
  c.type = "sgd";  // any letter case
  EXPECT_LT(compare_with_reference(c, torch_sgd(c), set_lr_of<torch::optim::SGDOptions>(),
                                   {0.0, 0.02, 0.0}),
            kTolerance);
  auto o = zs::make_optimizer(c);
  o->add_param(at::zeros({4}), 0.0);
  EXPECT_TRUE(o->state(0).empty());
}

TEST(Optimizer, StateNamesAndValuesMatchTorch) {
  auto c = adam_config("AdamW", true);
  auto ours = zs::make_optimizer(c);
  at::Tensor p = random_params(5)[0];
  at::Tensor q = p.clone().set_requires_grad(true);
  ours->add_param(p);  // the config's weight decay (0)
  EXPECT_EQ(ours->default_weight_decay(), 0.0);
  auto ref = torch_adamw(c)(q, 0.0);
  for (int s = 0; s < 3; ++s) {
    at::Tensor g = random_grads(s)[0];
    ours->step({g.clone()}, 1e-3, 1.0);
    q.mutable_grad() = g.clone();
    ref->step();
  }
  auto state = ours->state(0);
  ASSERT_EQ(state.size(), 2u);
  ASSERT_TRUE(state.count("exp_avg") && state.count("exp_avg_sq"));
  auto& ref_state = static_cast<torch::optim::AdamWParamState&>(*ref->state().at(q.unsafeGetTensorImpl()));
  EXPECT_LT(rel_diff({state["exp_avg"]}, {ref_state.exp_avg()}), kTolerance);
  EXPECT_LT(rel_diff({state["exp_avg_sq"]}, {ref_state.exp_avg_sq()}), kTolerance);
  EXPECT_EQ(ref_state.step(), 3);

  zs::OptimizerConfig s;
  s.type = "SGD";
  s.momentum = 0.5;
  auto sgd = zs::make_optimizer(s);
  sgd->add_param(at::zeros({8}), 0.0);
  auto sgd_state = sgd->state(0);
  ASSERT_EQ(sgd_state.size(), 1u);
  EXPECT_EQ(sgd_state.begin()->first, "momentum_buffer");
  EXPECT_EQ(sgd_state.begin()->second.numel(), 8);
}

TEST(Optimizer, RestoredStateContinuesIdentically) {
  // A checkpoint round trip: copy state + step count into a fresh optimizer, continue both.
  for (const char* type : {"Adam", "AdamW", "SGD", "Lion", "Adagrad"}) {
    zs::OptimizerConfig c = adam_config(type, std::string(type) == "AdamW");
    c.momentum = 0.9;
    auto first = zs::make_optimizer(c);
    std::vector<at::Tensor> a = random_params(11);
    for (auto& t : a) first->add_param(t, 0.01);
    for (int s = 0; s < 6; ++s) first->step(random_grads(s), 1e-2, 1.0);

    auto second = zs::make_optimizer(c);
    std::vector<at::Tensor> b = clones(a);
    for (auto& t : b) second->add_param(t, 0.01);
    for (size_t i = 0; i < a.size(); ++i) {
      auto from = first->state(i);
      auto to = second->state(i);
      ASSERT_EQ(from.size(), to.size());
      for (auto& [name, tensor] : from) to.at(name).copy_(tensor);
    }
    second->set_steps(first->steps());
    EXPECT_EQ(second->steps(), 6);
    for (int s = 6; s < 12; ++s) {
      first->step(random_grads(s), 1e-2, 1.0);
      second->step(random_grads(s), 1e-2, 1.0);
    }
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << type << " slot " << i;
  }
}

TEST(Optimizer, MomentumAndBetas) {
  auto c = adam_config("AdamW", true);
  auto ours = zs::make_optimizer(c);
  at::Tensor p = random_params(5)[0];
  at::Tensor q = p.clone().set_requires_grad(true);
  ours->add_param(p, 0.0);
  auto ref = torch_adamw(c)(q, 0.0);
  auto& ref_options = static_cast<torch::optim::AdamWOptions&>(ref->param_groups()[0].options());
  double beta2 = c.beta2;
  for (int s = 0; s < 6; ++s) {
    const double beta1 = 0.8 + 0.01 * s;
    if (s % 2 == 0) {
      ours->set_momentum(beta1);  // beta2 unchanged
    } else {
      beta2 = 0.99 + 0.001 * s;
      ours->set_betas(beta1, beta2);
    }
    ref_options.betas({beta1, beta2});
    at::Tensor g = random_grads(s)[0];
    ours->step({g.clone()}, c.lr, 1.0);
    q.mutable_grad() = g.clone();
    ref->step();
  }
  EXPECT_LT(rel_diff({p}, {q.detach()}), kTolerance);
  EXPECT_TRUE(ours->has_betas());

  zs::OptimizerConfig s;
  s.type = "SGD";
  auto sgd = zs::make_optimizer(s);
  EXPECT_FALSE(sgd->has_betas());
  EXPECT_THROW(sgd->set_betas(0.9, 0.99), std::logic_error);
}

TEST(Optimizer, OneCycleMomentumGoesToAdamBetasOnly) {
  zs::SchedulerConfig sc;
  sc.type = "OneCycle";
  sc.cycle_min_lr = 1e-4;
  sc.cycle_max_lr = 1e-3;
  sc.cycle_first_step_size = 4;
  auto schedule = zs::make_scheduler(sc, 1e-3);

  // Adam: betas become (scheduled momentum, 0.99); checked through the update it produces.
  auto c = adam_config("Adam", true);
  auto ours = zs::make_optimizer(c);
  at::Tensor p = random_params(2)[1];
  at::Tensor q = p.clone().set_requires_grad(true);
  ours->add_param(p, 0.0);
  auto ref = torch_adamw(c)(q, 0.0);
  auto& ref_options = static_cast<torch::optim::AdamWOptions&>(ref->param_groups()[0].options());
  for (int s = 0; s < 10; ++s) {
    zs::apply_scheduled_momentum(*schedule, *ours, s);
    ref_options.betas({*schedule->momentum(s), 0.99});
    at::Tensor g = random_grads(s)[1];
    ours->step({g.clone()}, schedule->lr(s), 1.0);
    q.mutable_grad() = g.clone();
    ref_options.lr(schedule->lr(s));
    ref->step();
  }
  EXPECT_LT(rel_diff({p}, {q.detach()}), kTolerance);

  // SGD has no betas: its momentum is left alone.
  zs::OptimizerConfig s;
  s.type = "SGD";
  s.momentum = 0.5;
  auto sgd = zs::make_optimizer(s);
  EXPECT_NO_THROW(zs::apply_scheduled_momentum(*schedule, *sgd, 3));
}

MakeReference torch_adagrad(const zs::OptimizerConfig& c) {
  return [c](at::Tensor p, double wd) {
    auto o = torch::optim::AdagradOptions(c.lr).lr_decay(c.lr_decay).eps(c.eps).weight_decay(wd);
    return std::make_unique<torch::optim::Adagrad>(std::vector<at::Tensor>{p}, o);
  };
}

TEST(Optimizer, AdagradMatchesTorch) {
  zs::OptimizerConfig c;
  c.type = "Adagrad";
  c.eps = 1e-10;
  c.lr_decay = 0.01;
  EXPECT_LT(compare_with_reference(c, torch_adagrad(c), set_lr_of<torch::optim::AdagradOptions>(), {0.0, 0.1, 0.01}),
            kTolerance);
  EXPECT_LT(compare_with_reference(c, torch_adagrad(c), set_lr_of<torch::optim::AdagradOptions>(), {0.0, 0.1, 0.01}, 4.0),
            kTolerance);
}

// Lion has no LibTorch counterpart: its rule, element by element, in double precision.
TEST(Optimizer, LionFollowsItsRule) {
  zs::OptimizerConfig c;
  c.type = "Lion";
  c.beta1 = 0.9;
  c.beta2 = 0.99;
  const std::vector<double> decays = {0.0, 0.1, 0.01};
  auto ours = zs::make_optimizer(c);
  std::vector<at::Tensor> mine = random_params(7), p, m;
  for (size_t i = 0; i < mine.size(); ++i) {
    ours->add_param(mine[i], decays[i]);
    p.push_back(mine[i].to(at::kDouble));
    m.push_back(at::zeros_like(p.back()));
  }
  for (int s = 0; s < kSteps; ++s) {
    std::vector<at::Tensor> grads = random_grads(s), scaled;
    for (const auto& g : grads) scaled.push_back(g * 2.0);
    ours->step(scaled, lr_at(s), 2.0);
    for (size_t i = 0; i < p.size(); ++i) {
      const at::Tensor g = grads[i].to(at::kDouble);
      p[i] = p[i] * (1 - lr_at(s) * decays[i]) - lr_at(s) * at::sign(c.beta1 * m[i] + (1 - c.beta1) * g);
      m[i] = c.beta2 * m[i] + (1 - c.beta2) * g;
    }
  }
  std::vector<at::Tensor> reference;
  for (auto& t : p) reference.push_back(t.to(at::kFloat));
  EXPECT_LT(rel_diff(mine, reference), kTolerance);
  EXPECT_EQ(ours->state(0).count("exp_avg"), 1u);
}

// Offload updates a slot piece by piece (step_range, with the values written as bf16 on the way)
// or hands over pieces it keeps in files (step_piece), through loops of its own on the CPU
// (optim/elementwise_cpu.hpp): the same bits as LibTorch's operations over the whole slot, for
// bf16, fp16 and fp32 gradients, with and without a divisor and weight decay, and with gradients
// that are zero (Lion's sign of 0).
TEST(Optimizer, LionAndAdagradInPiecesMatchTheWholeSlot) {
  for (const char* type : {"Lion", "Adagrad"}) {
    for (const auto grad_dtype : {at::kBFloat16, at::kHalf, at::kFloat}) {
      for (const double divisor : {3.0, 1.0}) {
        const double decay = divisor == 1.0 ? 0.0 : 0.05;
        const std::string what = std::string(type) + " " + c10::toString(grad_dtype) + " divisor " +
                                 std::to_string(divisor);
        zs::OptimizerConfig c;
        c.type = type;
        c.weight_decay = decay;
        c.lr_decay = 0.02;
        auto whole = zs::make_optimizer(c);
        auto pieces = zs::make_host_optimizer(c, /*pin_memory=*/false);
        auto external = zs::make_host_optimizer(c, /*pin_memory=*/false);
        std::vector<at::Tensor> a = random_params(21), b = clones(a), held = clones(a), held_state;
        const std::vector<std::string> keys = external->state_keys();
        ASSERT_EQ(keys.size(), 1u) << type;
        for (size_t i = 0; i < a.size(); ++i) {
          whole->add_param(a[i], decay);
          pieces->add_param(b[i], decay);
          external->add_external_slot(held[i].numel(), decay);
          held_state.push_back(at::zeros_like(held[i]));
        }
        std::vector<at::Tensor> bf16(a.size());
        for (int s = 0; s < 5; ++s) {
          std::vector<at::Tensor> g = random_grads(s), g16;
          for (auto& t : g) {
            g16.push_back((t * divisor).to(grad_dtype));
            g16.back().narrow(0, 0, std::min<int64_t>(5, t.numel())).zero_();
          }
          std::vector<at::Tensor> g32;
          for (auto& t : g16) g32.push_back(t.to(at::kFloat));
          whole->step(g32, lr_at(s), divisor);
          pieces->begin_step();
          external->begin_step();
          for (size_t i = 0; i < a.size(); ++i) {
            bf16[i] = at::empty({a[i].numel()}, at::kBFloat16);
            for (int64_t begin = 0; begin < a[i].numel(); begin += 333) {
              const int64_t n = std::min<int64_t>(333, a[i].numel() - begin);
              pieces->step_range(int(i), begin, g16[i].narrow(0, begin, n), lr_at(s), divisor,
                                 bf16[i].narrow(0, begin, n));
              external->step_piece(int(i), held[i].narrow(0, begin, n), {held_state[i].narrow(0, begin, n)},
                                   g16[i].narrow(0, begin, n), lr_at(s), divisor, at::Tensor());
            }
          }
        }
        for (size_t i = 0; i < a.size(); ++i) {
          EXPECT_TRUE(at::equal(a[i], b[i])) << what << " slot " << i;
          EXPECT_TRUE(at::equal(a[i], held[i])) << what << " slot " << i;
          EXPECT_TRUE(at::equal(whole->state(int(i)).at(keys[0]), held_state[i])) << what << " slot " << i;
          EXPECT_TRUE(at::equal(bf16[i], a[i].to(at::kBFloat16))) << what << " slot " << i;
        }
        EXPECT_TRUE(external->state(0).empty()) << "the caller holds an external slot's state";
      }
    }
  }
}

TEST(Optimizer, ConfigErrors) {
  zs::OptimizerConfig c;
  c.type = "Lamb";
  EXPECT_THROW(zs::make_optimizer(c), zs::ConfigError);
  c.type = "SGD";
  c.nesterov = true;  // momentum 0
  EXPECT_THROW(zs::make_optimizer(c), zs::ConfigError);
  c.momentum = 0.9;
  c.dampening = 0.1;
  EXPECT_THROW(zs::make_optimizer(c), zs::ConfigError);
  c = zs::OptimizerConfig{};
  c.beta2 = 1.0;
  EXPECT_THROW(zs::make_optimizer(c), zs::ConfigError);
  c = zs::OptimizerConfig{};
  c.lr = -1;
  EXPECT_THROW(zs::make_optimizer(c), zs::ConfigError);
  c = zs::OptimizerConfig{};
  c.type = "Lion";
  c.beta1 = 1.5;
  EXPECT_THROW(zs::make_optimizer(c), zs::ConfigError);
  c = zs::OptimizerConfig{};
  c.type = "Adagrad";
  c.lr_decay = -0.1;
  EXPECT_THROW(zs::make_optimizer(c), zs::ConfigError);
}

TEST(Optimizer, BadArgumentsAreReported) {
  auto o = zs::make_optimizer(zs::OptimizerConfig{});
  EXPECT_THROW(o->add_param(at::zeros({4}, at::kDouble), 0.0), c10::Error);
  EXPECT_THROW(o->add_param(at::zeros({4, 4}).t(), 0.0), c10::Error);
  o->add_param(at::zeros({4}), 0.0);
  EXPECT_THROW(o->step({}, 1e-3, 1.0), c10::Error);
  EXPECT_THROW(o->step({at::zeros({5})}, 1e-3, 1.0), c10::Error);
  EXPECT_THROW(o->step({at::zeros({4})}, 1e-3, 0.0), c10::Error);
}

TEST(Optimizer, CudaMatchesCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  for (const char* type : {"Adam", "AdamW", "SGD", "Lion", "Adagrad"}) {
    zs::OptimizerConfig c = adam_config(type, std::string(type) == "AdamW");
    c.momentum = 0.9;
    auto cpu = zs::make_optimizer(c);
    auto gpu = zs::make_optimizer(c);
    std::vector<at::Tensor> a = random_params(13), b;
    for (auto& t : a) b.push_back(t.to(at::kCUDA));
    for (size_t i = 0; i < a.size(); ++i) {
      cpu->add_param(a[i], 0.01 * i);
      gpu->add_param(b[i], 0.01 * i);
    }
    for (int s = 0; s < kSteps; ++s) {
      std::vector<at::Tensor> g = random_grads(s), gg;
      for (auto& t : g) gg.push_back(t.to(at::kCUDA));
      cpu->step(g, lr_at(s), 2.5);
      gpu->step(gg, lr_at(s), 2.5);
    }
    std::vector<at::Tensor> back;
    for (auto& t : b) back.push_back(t.cpu());
    EXPECT_LT(rel_diff(back, a), kTolerance) << type;
  }
}

}  // namespace test_optim
