// Blockwise symmetric quantization for communication (ZeRO++'s quantized weight gathers and
// gradient reductions): a tensor is cut into blocks of `block_size` elements and each block is
// sent as `bits`-bit signed integers times one float32 scale.
//
//   scale = max|x| over the block / qmax          (qmax = 127 for int8, 7 for int4)
//   q     = round_half_even(x * qmax / max|x|)    in [-qmax, qmax]
//   x'    = q * scale
// Round to nearest bounds the error per element by scale / 2 (plus float32 rounding, and the
// output dtype's own rounding when it is 16-bit). A block of zeros has scale 0 and comes back as
// zeros; a block holding inf or NaN gets a NaN scale and comes back as NaN, so overflow checks
// downstream still see it. The last block is padded with zeros.
//
// Payload bytes: int8 one per element; int4 two elements per byte (element 2i in the low nibble,
// stored as q + 8). The packed form (what collectives carry) is one uint8 buffer per tensor:
// the payload, then the scales as float32 bytes.
//
// CPU tensors run plain loops over blocks in parallel; CUDA tensors run the kernels of
// block_quantizer_kernels.cu (GPU builds), which give the same bits as the CPU loops.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace zs {

struct QuantizedTensor {
  at::Tensor payload;  // uint8, BlockQuantizer::payload_bytes(numel)
  at::Tensor scales;   // float32, one per block
  int64_t numel = 0;   // elements of the original tensor
};

class BlockQuantizer {
 public:
  // bits: 8 or 4. block_size: a positive multiple of 8 (whole, aligned vectors in the kernels).
  // Throws std::invalid_argument otherwise.
  BlockQuantizer(int bits, int64_t block_size);

  int bits() const { return bits_; }
  int64_t block_size() const { return block_size_; }
  int qmax() const { return bits_ == 8 ? 127 : 7; }

  int64_t num_blocks(int64_t numel) const { return (numel + block_size_ - 1) / block_size_; }
  int64_t payload_bytes(int64_t numel) const { return num_blocks(numel) * block_size_ * bits_ / 8; }
  int64_t packed_bytes(int64_t numel) const { return payload_bytes(numel) + 4 * num_blocks(numel); }

  // x: float32, bfloat16 or float16, contiguous. Into new tensors on x's device.
  QuantizedTensor quantize(const at::Tensor& x) const;
  // A new tensor of `dtype` (float32, bfloat16 or float16) with q.numel elements.
  at::Tensor dequantize(const QuantizedTensor& q, at::ScalarType dtype) const;

  // Into caller-owned buffers (slices of a collective's flat buffer): payload uint8 of
  // payload_bytes(x.numel()), scales float32 of num_blocks(x.numel()), all contiguous, one device.
  void quantize_into(const at::Tensor& x, const at::Tensor& payload, const at::Tensor& scales) const;
  // out: float32, bfloat16 or float16, contiguous; its numel says how many elements to restore.
  void dequantize_into(const at::Tensor& payload, const at::Tensor& scales, const at::Tensor& out) const;

  // The packed form: `packed` is uint8 of packed_bytes(x.numel()) (payload, then scales). Its
  // address must be 4-byte aligned (scales are read as float32 in place).
  void quantize_packed(const at::Tensor& x, const at::Tensor& packed) const;
  void dequantize_packed(const at::Tensor& packed, const at::Tensor& out) const;

 private:
  at::Tensor packed_scales(const at::Tensor& packed, int64_t numel) const;

  int bits_;
  int64_t block_size_;
};

}  // namespace zs
