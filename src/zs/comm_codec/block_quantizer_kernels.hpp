// The CUDA kernels behind BlockQuantizer (block_quantizer_kernels.cu), on raw pointers so that nvcc
// compiles them without LibTorch's headers; block_quantizer_cuda.cpp checks the tensors and calls
// these. GPU builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "zs/kernels/float_kind.hpp"

namespace zs::kernels {

// x: numel elements of `kind`; payload: whole blocks of codes; scales: one float per block.
// block_size is a multiple of 8. Launched on `stream`; errors come back from cudaGetLastError.
void launch_quantize_blocks(const void* x, FloatKind kind, int64_t numel, int bits, int64_t block_size,
                            uint8_t* payload, float* scales, cudaStream_t stream);
void launch_dequantize_blocks(const uint8_t* payload, const float* scales, int bits, int64_t block_size,
                              int64_t numel, void* out, FloatKind kind, cudaStream_t stream);

}  // namespace zs::kernels
