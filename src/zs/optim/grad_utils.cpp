#include "zs/optim/grad_utils.hpp"

#include <algorithm>

#include <ATen/ops/isfinite.h>
#include <ATen/ops/linalg_vector_norm.h>
#include <ATen/ops/logical_not.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/square.h>
#include <ATen/ops/zeros.h>

#ifdef ZS_WITH_CUDA
#include "zs/optim/grad_norm_cuda.hpp"
#endif

namespace zs {
namespace {

// CPU input is squared and summed this many elements at a time (16 MiB of fp32 scratch): the
// CPU sum is a cascaded (accurate) one, while CPU norm kernels accumulate in plain fp32 runs
// and lose ~1e-4 relative on millions of elements.
constexpr int64_t kCpuChunk = int64_t{1} << 22;

}  // namespace

at::Tensor squared_norm(const at::Tensor& flat) {
  TORCH_CHECK(flat.defined(), "squared_norm: undefined tensor");
  TORCH_CHECK(at::isFloatingType(flat.scalar_type()), "squared_norm: needs a floating tensor, got ",
              flat.scalar_type());
  const at::Tensor x = flat.reshape({-1});
  if (x.numel() == 0) return at::zeros({}, x.options().dtype(at::kFloat));
  if (x.is_cuda()) {
    // CUDA reductions accumulate in fp32 over a tree and read 16-bit input directly.
    return at::linalg_vector_norm(x, 2, std::nullopt, false, at::kFloat).square();
  }
  std::vector<at::Tensor> parts;
  for (int64_t begin = 0; begin < x.numel(); begin += kCpuChunk) {
    const int64_t length = std::min(kCpuChunk, x.numel() - begin);
    parts.push_back(x.narrow(0, begin, length).to(at::kFloat).square().sum());
  }
  return parts.size() == 1 ? parts[0] : at::stack(parts).sum();
}

at::Tensor squared_norm(const std::vector<at::Tensor>& tensors) {
  TORCH_CHECK(!tensors.empty(), "squared_norm: no tensors");
#ifdef ZS_WITH_CUDA
  if (squared_norm_cuda_applies(tensors)) return squared_norm_cuda(tensors);
#endif
  at::Tensor total = squared_norm(tensors.front());
  for (size_t i = 1; i < tensors.size(); ++i) total.add_(squared_norm(tensors[i]));
  return total;
}

at::Tensor has_inf_or_nan(const at::Tensor& t) {
  TORCH_CHECK(t.defined(), "has_inf_or_nan: undefined tensor");
  if (!at::isFloatingType(t.scalar_type()) || t.numel() == 0) {
    return at::zeros({}, t.options().dtype(at::kFloat));
  }
  // An inf or nan anywhere makes the fp32 sum inf or nan (inf - inf is nan); finite fp16/bf16
  // values cannot overflow an fp32 sum at any realistic size. One pass, no mask of t's size.
  const at::Tensor sum = t.sum(at::kFloat);
  return at::logical_not(at::isfinite(sum)).to(at::kFloat);
}

}  // namespace zs
