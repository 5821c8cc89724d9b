// BlockQuantizer's CUDA path (block_quantizer_cuda.cpp, GPU builds only): arguments already checked
// by BlockQuantizer; runs on the current CUDA stream.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace zs {

void quantize_blocks_cuda(const at::Tensor& x, int bits, int64_t block_size, const at::Tensor& payload,
                          const at::Tensor& scales);
void dequantize_blocks_cuda(const at::Tensor& payload, const at::Tensor& scales, int bits, int64_t block_size,
                            const at::Tensor& out);

}  // namespace zs
