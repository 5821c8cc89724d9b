// The tensor side of our LayerNorm kernels (layer_norm_cuda.hpp). GPU builds only.
#include "zs/models/layer_norm_cuda.hpp"

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/native_layer_norm.h>
#include <c10/cuda/CUDAGuard.h>

#include "zs/config/env.hpp"
#include "zs/kernels/check_launch.hpp"
#include "zs/models/column_sums_kernels.hpp"

namespace zs {
namespace {

// Per-row statistics in the shape at::native_layer_norm gives them: [..., 1] floats.
std::pair<at::Tensor, at::Tensor> empty_stats(const at::Tensor& x) {
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end() - 1);
  shape.push_back(1);
  const auto f32 = x.options().dtype(at::kFloat);
  return {at::empty(shape, f32), at::empty(shape, f32)};
}

// `per_thread` Philox values for each thread of one launch, from the device's default generator
// (what at::dropout draws from; a CUDA graph being captured gets its replay-advanced pointers).
kernels::PhiloxDraws philox_draws(c10::Device device, uint64_t per_thread) {
  auto* gen = at::check_generator<at::CUDAGeneratorImpl>(at::cuda::detail::getDefaultCUDAGenerator(device.index()));
  at::PhiloxCudaState state;
  {
    const std::lock_guard<std::mutex> lock(gen->mutex_);
    state = gen->philox_cuda_state(per_thread);
  }
  kernels::PhiloxDraws draws;
  if (state.captured_) {
    draws.seed_at = state.seed_.ptr;
    draws.offset_at = state.offset_.ptr;
    draws.offset_in_graph = state.offset_intragraph_;
  } else {
    draws.seed = state.seed_.val;
    draws.offset = state.offset_.val;
  }
  return draws;
}

}  // namespace

at::Tensor as_rows(const at::Tensor& t) {
  at::Tensor rows = t.reshape({-1, t.size(-1)}).contiguous();
  return reinterpret_cast<uintptr_t>(rows.const_data_ptr()) % 16 == 0 ? rows : rows.clone();
}

bool fused_layer_norm_enabled() {
  static const bool on = switch_from_env("ZS_FUSED_LAYER_NORM");
  return on;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_forward(const at::Tensor& x, const at::Tensor& weight,
                                                                  const std::optional<at::Tensor>& bias, double eps) {
  const int64_t cols = weight.size(0);
  const bool ours = fused_layer_norm_enabled() && cols <= kernels::kLayerNormMaxCols &&
                    weight.is_contiguous() && (!bias || (bias->scalar_type() == x.scalar_type() && bias->is_contiguous()));
  if (!ours) return at::native_layer_norm(x, {cols}, weight, bias, eps);
  const at::Tensor rows = as_rows(x), w = as_rows(weight.view({1, cols}));
  const at::Tensor b = bias ? as_rows(bias->view({1, cols})) : at::Tensor();
  at::Tensor y = at::empty_like(rows);
  auto [mean, rstd] = empty_stats(x);
  const c10::cuda::CUDAGuard guard(x.device());
  kernels::launch_layer_norm_forward(rows.const_data_ptr(), w.const_data_ptr(), b.defined() ? b.const_data_ptr() : nullptr,
                                     rows.size(0), cols, float(eps), kernels::float_kind(x.scalar_type()),
                                     y.data_ptr(), mean.data_ptr<float>(), rstd.data_ptr<float>(),
                                     c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("layer norm forward kernel");
  return {y.view(x.sizes()), mean, rstd};
}

ResidualNormed residual_layer_norm_forward(const at::Tensor& x, const at::Tensor& branch, double p,
                                           const at::Tensor& weight, const std::optional<at::Tensor>& bias, double eps) {
  const int64_t cols = x.size(-1);
  const bool branch_matches =
      branch.sizes() == x.sizes() && branch.scalar_type() == x.scalar_type() && branch.device() == x.device();
  if (!branch_matches || cols % 8 != 0 || cols > kernels::kLayerNormMaxCols ||
      (weight.defined() && weight.numel() != cols) || !(p >= 0 && p < 1))
    throw std::invalid_argument("residual layer norm: x and branch must match (shape, dtype, device), with up to 2,048 "
                                "features (a multiple of 8), the weight one per feature and 0 <= p < 1");
  const at::Tensor rows = as_rows(x), branch_rows = as_rows(branch);
  ResidualNormed out;
  out.h = at::empty_like(rows);
  if (p > 0) out.keep_mask = at::empty(rows.sizes(), rows.options().dtype(at::kByte));
  kernels::ResidualAdd residual;
  residual.branch = branch_rows.const_data_ptr();
  residual.sum = out.h.data_ptr();
  residual.keep = float(1 - p);
  if (p > 0) {
    residual.keep_mask = static_cast<uint8_t*>(out.keep_mask.data_ptr());
    residual.draws = philox_draws(x.device(), kernels::layer_norm_draws_per_thread(cols));
  }
  at::Tensor w, b;
  if (weight.defined()) {
    w = as_rows(weight.view({1, cols}));
    if (bias) b = as_rows(bias->view({1, cols}));
    out.y = at::empty_like(rows);
    std::tie(out.mean, out.rstd) = empty_stats(x);
  }
  const c10::cuda::CUDAGuard guard(x.device());
  kernels::launch_layer_norm_forward(rows.const_data_ptr(), w.defined() ? w.const_data_ptr() : nullptr,
                                     b.defined() ? b.const_data_ptr() : nullptr, rows.size(0), cols, float(eps),
                                     kernels::float_kind(x.scalar_type()), w.defined() ? out.y.data_ptr() : nullptr,
                                     w.defined() ? out.mean.data_ptr<float>() : nullptr,
                                     w.defined() ? out.rstd.data_ptr<float>() : nullptr,
                                     c10::cuda::getCurrentCUDAStream().stream(), residual);
  kernels::check_launch("residual layer norm forward kernel");
  out.h = out.h.view(x.sizes());
  if (out.y.defined()) out.y = out.y.view(x.sizes());
  if (p > 0) out.keep_mask = out.keep_mask.view(x.sizes());
  return out;
}


std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward(const at::Tensor& dy, const at::Tensor& x,
                                                                   const at::Tensor& weight, const at::Tensor& mean,
                                                                   const at::Tensor& rstd, bool want_dx,
                                                                   const kernels::ResidualGrad& residual) {
  const int64_t cols = weight.size(0);
  const at::Tensor dy_rows = as_rows(dy), x_rows = as_rows(x), w = as_rows(weight.view({1, cols}));
  const at::Tensor mean_rows = mean.reshape({-1}).contiguous(), rstd_rows = rstd.reshape({-1}).contiguous();
  const int64_t rows = x_rows.size(0);
  const c10::cuda::CUDAGuard guard(x.device());
  const int row_blocks =
      kernels::layer_norm_backward_row_blocks(rows, at::cuda::getCurrentDeviceProperties()->multiProcessorCount);
  at::Tensor partial = at::empty({2, row_blocks, cols}, x.options().dtype(at::kFloat));
  at::Tensor dx = want_dx ? at::empty_like(x_rows) : at::Tensor();
  at::Tensor dweight = at::empty({cols}, weight.options()), dbias = at::empty({cols}, weight.options());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
  kernels::launch_layer_norm_backward(dy_rows.const_data_ptr(), x_rows.const_data_ptr(), mean_rows.const_data_ptr<float>(),
                                      rstd_rows.const_data_ptr<float>(), w.const_data_ptr(), rows, cols,
                                      kernels::float_kind(x.scalar_type()), row_blocks,
                                      want_dx ? dx.data_ptr() : nullptr, partial.data_ptr<float>(), stream, residual);
  kernels::check_launch("layer norm backward kernel");
  kernels::launch_finish_column_sums(partial.data_ptr<float>(), row_blocks, cols, 2,
                                     kernels::float_kind(weight.scalar_type()), dbias.data_ptr(), dweight.data_ptr(),
                                     stream);
  kernels::check_launch("column-sum kernels");
  return {want_dx ? dx.view(x.sizes()) : at::Tensor(), dweight, dbias};
}

}  // namespace zs
