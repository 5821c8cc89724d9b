#include "zs/optim/elementwise_cpu.hpp"

#include <ATen/Parallel.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/sqrt.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

namespace zs::optim_detail {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements a thread takes at least

// LibTorch's CPU kernels take a double Scalar into fp32 arithmetic as the nearest float.
float f32(double x) { return static_cast<float>(x); }

// grad[i] as fp32, divided as g.div_(divisor) divides it.
template <typename G>
struct GradReader {
  const G* grad;
  bool divide;
  float divisor;
  float operator()(int64_t i) const {
    const float g = static_cast<float>(grad[i]);
    return divide ? g / divisor : g;
  }
};

template <typename Body>
void for_each_grad_kind(const CpuPiece& piece, const Body& body) {
  const bool divide = piece.grad_divisor != 1.0;
  const float divisor = f32(piece.grad_divisor);
  at::parallel_for(0, piece.n, kGrain, [&](int64_t begin, int64_t end) {
    switch (piece.grad_dtype) {
      case at::kBFloat16:
        return body(GradReader<c10::BFloat16>{static_cast<const c10::BFloat16*>(piece.grad), divide, divisor}, begin, end);
      case at::kHalf:
        return body(GradReader<c10::Half>{static_cast<const c10::Half*>(piece.grad), divide, divisor}, begin, end);
      default:
        return body(GradReader<float>{static_cast<const float*>(piece.grad), divide, divisor}, begin, end);
    }
  });
}

}  // namespace

std::optional<CpuPiece> cpu_piece(const at::Tensor& master, const at::Tensor& state, const at::Tensor& grad,
                                  double grad_divisor) {
  const auto on_cpu = [](const at::Tensor& t) { return t.defined() && t.is_cpu() && t.is_contiguous(); };
  const auto g = grad.scalar_type();
  if (!on_cpu(master) || !on_cpu(state) || !on_cpu(grad) || master.scalar_type() != at::kFloat ||
      state.scalar_type() != at::kFloat || (g != at::kFloat && g != at::kBFloat16 && g != at::kHalf) ||
      master.numel() != grad.numel() || state.numel() != grad.numel())
    return std::nullopt;
  return CpuPiece{master.data_ptr<float>(), state.data_ptr<float>(), grad.const_data_ptr(), g, grad.numel(),
                  grad_divisor};
}

// Lion's operations in lion.cpp, element by element: master.mul_(1 - lr * wd);
// direction = exp_avg.mul(b1).add_(g.mul(1 - b1)).sign_(); master.add_(direction, -lr);
// exp_avg.mul_(b2).add_(g.mul_(1 - b2)). (-lr * direction is exact, so it matters not whether
// LibTorch fuses that multiply and add: one rounding either way.)
void lion_cpu(const CpuPiece& piece, const LionStep& step) {
  const bool decays = step.weight_decay != 0.0;
  const float decay = f32(1.0 - step.lr * step.weight_decay), neg_lr = f32(-step.lr);
  const float b1 = f32(step.beta1), one_minus_b1 = f32(1.0 - step.beta1);
  const float b2 = f32(step.beta2), one_minus_b2 = f32(1.0 - step.beta2);
  float* master = piece.master;
  float* exp_avg = piece.state;
  for_each_grad_kind(piece, [&](const auto& grad, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float g = grad(i), m = exp_avg[i];
      float p = master[i];
      if (decays) p = p * decay;
      const float blend = m * b1 + g * one_minus_b1;
      const float direction = static_cast<float>(0.f < blend) - static_cast<float>(blend < 0.f);
      master[i] = p + neg_lr * direction;
      exp_avg[i] = m * b2 + g * one_minus_b2;
    }
  });
}

// Adagrad's operations in adagrad.cpp, element by element: g.add_(master.mul(wd));
// sum.add_(g.mul(g)); master.sub_(g.div_(sqrt(sum).add_(eps)).mul_(clr)). The square root is
// LibTorch's own kernel, run over the piece between two loops: on x86 it is MKL's, which is not
// always the correctly rounded root (1 ulp off for about a sixth of the values), so no loop of
// ours could give its bits. The second loop works g out again from the same inputs.
void adagrad_cpu(const CpuPiece& piece, const AdagradStep& step) {
  const bool decays = step.weight_decay != 0.0;
  const float wd = f32(step.weight_decay), eps = f32(step.eps), clr = f32(step.clr);
  float* master = piece.master;
  float* sum = piece.state;
  for_each_grad_kind(piece, [&](const auto& grad, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float g = grad(i);
      if (decays) g = g + master[i] * wd;
      sum[i] = sum[i] + g * g;
    }
  });
  const at::Tensor root = at::sqrt(at::from_blob(sum, {piece.n}, at::TensorOptions().dtype(at::kFloat)));
  const float* sqrt_sum = root.const_data_ptr<float>();
  for_each_grad_kind(piece, [&](const auto& grad, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float p = master[i];
      float g = grad(i);
      if (decays) g = g + p * wd;
      master[i] = p - g / (sqrt_sum[i] + eps) * clr;
    }
  });
}

}  // namespace zs::optim_detail
