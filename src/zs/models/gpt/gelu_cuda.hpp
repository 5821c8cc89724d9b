// The GPT's exact GELU on bfloat16 tensors by table (gelu_kernels.hpp says why), with its gradient;
// ATen's results to the bit, at the memory's speed. GPU builds only (gelu_cuda.cpp).
#pragma once

#include <string>

#include <ATen/core/Tensor.h>

namespace zs {

// Whether gelu_by_table takes x: a bfloat16 CUDA tensor, the exact form (approximate "none"), and
// ZS_GELU_TABLE not "0".
bool gelu_by_table_applies(const at::Tensor& x, const std::string& approximate);

// at::gelu(x) with its gradient, with or without autograd, the same bits as ATen's kernels (the
// result contiguous; no second derivative). The first call on a GPU makes its tables, so it must
// not be inside a CUDA graph capture.
at::Tensor gelu_by_table(const at::Tensor& x);

}  // namespace zs
