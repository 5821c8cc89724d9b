// The exact (erf) GELU and its gradient for bfloat16 tensors by table (gelu_kernels.cu), on raw
// pointers so that nvcc compiles it without LibTorch's headers; gelu_cuda.cpp builds the tables
// and calls it. GPU builds only.
//
// Why tables: in fp32, erf (and exp, for the gradient) cost more arithmetic than the GPU has
// per element at its memory's speed, so ATen's GELU kernels are bound by arithmetic. A bfloat16
// input has only 65,536 values, and those that activations hold, 2^-40 <= |x| < 16, are 11,264.
// The tables hold, for those, the output ATen's own kernel gives and the fp32 factor ATen's
// gradient kernel multiplies the incoming gradient by, so every result is ATen's to the bit; the
// kernels look them up in shared memory and stream at memory speed. The rest (zero, the tiny,
// |x| >= 16, inf, NaN) take ATen's formula.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace zs::kernels {

// Table entries: the bfloat16 values whose magnitude bits (bits & 0x7fff) lie in
// [kGeluTableLow, kGeluTableHigh), the positive ones first, then the negative ones.
constexpr int kGeluTableLow = 87 << 7;    // exponent field 87: 2^-40
constexpr int kGeluTableHigh = 131 << 7;  // exponent field 131: 2^4 = 16
constexpr int kGeluTableHalf = kGeluTableHigh - kGeluTableLow;
constexpr int kGeluTableSize = 2 * kGeluTableHalf;

// The bfloat16 bits of table entry i (to build the tables from ATen's kernels).
constexpr uint16_t gelu_table_bits(int i) {
  return i < kGeluTableHalf ? uint16_t(kGeluTableLow + i) : uint16_t(0x8000 | (kGeluTableLow + i - kGeluTableHalf));
}

// y = gelu(x): n bfloat16 elements, contiguous. `table`: kGeluTableSize bfloat16 outputs.
void launch_gelu_forward_bf16(const void* x, void* y, int64_t n, const void* table, cudaStream_t stream);

// dx = dy * gelu'(x): n bfloat16 elements each, contiguous. `table`: kGeluTableSize fp32 factors.
void launch_gelu_backward_bf16(const void* dy, const void* x, void* dx, int64_t n, const float* table,
                               cudaStream_t stream);

}  // namespace zs::kernels
