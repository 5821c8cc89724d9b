// Comparing tensors in the GPU tests: bit for bit, and by the largest difference relative to the
// reference's largest magnitude.
#pragma once

#include <cstring>

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/abs.h>

namespace zs::testing {

// Same shape, dtype and bytes (on the host, in row-major order).
inline bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.cpu().contiguous(), y = b.cpu().contiguous();
  return x.sizes() == y.sizes() && x.scalar_type() == y.scalar_type() &&
         std::memcmp(x.const_data_ptr(), y.const_data_ptr(), x.nbytes()) == 0;
}

// max |a - b| / max |b|, in fp32.
inline double relative_diff(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor fa = a.to(at::kFloat), fb = b.to(at::kFloat);
  return (fa - fb).abs().max().item<double>() / (fb.abs().max().item<double>() + 1e-30);
}

}  // namespace zs::testing
