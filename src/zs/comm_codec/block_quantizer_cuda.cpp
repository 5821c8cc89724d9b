#include "zs/comm_codec/block_quantizer_cuda.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "zs/comm_codec/block_quantizer_kernels.hpp"
#include "zs/kernels/check_launch.hpp"

namespace zs {
namespace {

// The kernels move codes as 32-bit words.
void check_payload_alignment(const at::Tensor& payload) {
  if (reinterpret_cast<uintptr_t>(payload.data_ptr()) % 4 != 0)
    throw std::invalid_argument("block quantizer: a CUDA payload buffer must be 4-byte aligned");
}

}  // namespace

void quantize_blocks_cuda(const at::Tensor& x, int bits, int64_t block_size, const at::Tensor& payload,
                          const at::Tensor& scales) {
  check_payload_alignment(payload);
  c10::cuda::CUDAGuard guard(x.device());
  kernels::launch_quantize_blocks(x.const_data_ptr(), kernels::float_kind(x.scalar_type()), x.numel(), bits, block_size,
                                  payload.data_ptr<uint8_t>(), scales.data_ptr<float>(),
                                  c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("block quantize kernel");
}

void dequantize_blocks_cuda(const at::Tensor& payload, const at::Tensor& scales, int bits, int64_t block_size,
                            const at::Tensor& out) {
  check_payload_alignment(payload);
  c10::cuda::CUDAGuard guard(out.device());
  kernels::launch_dequantize_blocks(payload.const_data_ptr<uint8_t>(), scales.const_data_ptr<float>(), bits,
                                    block_size, out.numel(), out.data_ptr(), kernels::float_kind(out.scalar_type()),
                                    c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("block dequantize kernel");
}

}  // namespace zs
