// The floating-point element types our CUDA kernels take. The kernels (*.cu) are compiled by nvcc
// without LibTorch's headers, so the host side names a tensor's dtype with this enum; the mapping
// from ATen's dtype is for host code only.
#pragma once

namespace zs::kernels {

enum class FloatKind { f32, bf16, f16 };

}  // namespace zs::kernels

#ifndef __CUDACC__
#include <stdexcept>
#include <string>

#include <c10/core/ScalarType.h>

namespace zs::kernels {

inline FloatKind float_kind(c10::ScalarType t) {
  switch (t) {
    case c10::kFloat: return FloatKind::f32;
    case c10::kBFloat16: return FloatKind::bf16;
    case c10::kHalf: return FloatKind::f16;
    default: throw std::invalid_argument(std::string("no CUDA kernel for dtype ") + c10::toString(t));
  }
}

}  // namespace zs::kernels
#endif
