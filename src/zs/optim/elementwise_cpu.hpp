// Lion's and Adagrad's update on the CPU as loops over a piece's elements: Lion in one pass,
// Adagrad in two around LibTorch's square root; the fp32 master and state updated in place. The
// LibTorch operations they are written in (lion.cpp, adagrad.cpp) take 8-11 passes over a piece
// and temporaries of its size; an offloaded step runs these loops instead
// (ElementwiseOptimizer::step_piece). Per element they do the same fp32 operations in the same
// order, each rounded as LibTorch's CPU kernels round it (the file compiles with
// -ffp-contract=off, so no multiply and add are fused behind our back), so the results equal the
// operations' bit for bit (tests/test_optim.cpp). Threads: LibTorch's intra-op pool, as its
// operations use it.
#pragma once

#include <cstdint>
#include <optional>

#include <ATen/core/Tensor.h>

namespace zs::optim_detail {

// One piece of a slot: master and state (fp32) updated in place from the gradient (fp32, bf16 or
// fp16; only read), which is divided by grad_divisor first (1: not divided). All contiguous on the CPU.
struct CpuPiece {
  float* master = nullptr;
  float* state = nullptr;
  const void* grad = nullptr;
  at::ScalarType grad_dtype = at::kFloat;
  int64_t n = 0;
  double grad_divisor = 1.0;
};

// The piece when the loops can take these tensors (all on the CPU and contiguous, master and state
// fp32, the gradient fp32, bf16 or fp16, one element count), else nullopt.
std::optional<CpuPiece> cpu_piece(const at::Tensor& master, const at::Tensor& state, const at::Tensor& grad,
                                  double grad_divisor);

// p *= 1 - lr * wd;  p += -lr * sign(b1 * m + (1 - b1) * g);  m = b2 * m + (1 - b2) * g
struct LionStep {
  double lr, weight_decay, beta1, beta2;
};
void lion_cpu(const CpuPiece& piece, const LionStep& step);

// g += wd * p;  sum += g * g;  p -= g / (sqrt(sum) + eps) * clr
struct AdagradStep {
  double clr, weight_decay, eps;
};
void adagrad_cpu(const CpuPiece& piece, const AdagradStep& step);

}  // namespace zs::optim_detail
