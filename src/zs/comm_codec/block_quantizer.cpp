#include "zs/comm_codec/block_quantizer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#ifdef ZS_WITH_CUDA
#include "zs/comm_codec/block_quantizer_cuda.hpp"
#endif

namespace zs {
namespace {

bool is_codec_float(at::ScalarType t) { return t == at::kFloat || t == at::kBFloat16 || t == at::kHalf; }

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("block quantizer: " + message);
}

void require_buffer(const at::Tensor& t, const char* name, at::ScalarType dtype, int64_t numel, const at::Device& device) {
  require(t.defined() && t.is_contiguous(), std::string(name) + " must be a defined, contiguous tensor");
  require(t.scalar_type() == dtype, std::string(name) + " must be " + c10::toString(dtype) + ", not " +
                                        c10::toString(t.scalar_type()));
  require(t.numel() == numel, std::string(name) + " has " + std::to_string(t.numel()) + " elements, want " +
                                  std::to_string(numel));
  require(t.device() == device, std::string(name) + " is on " + t.device().str() + ", the data on " + device.str());
}

// One block on the CPU: `n` real elements of x, block_size codes written (the tail padded with 0).
template <typename T>
void quantize_block(const T* x, int64_t n, int64_t block_size, int bits, uint8_t* payload, float* scale) {
  const float qmax = bits == 8 ? 127.f : 7.f;
  float amax = 0.f;
  bool finite = true;
  for (int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(x[i]);
    finite = finite && std::isfinite(v);
    amax = std::max(amax, std::fabs(v));
  }
  *scale = finite ? amax / qmax : std::numeric_limits<float>::quiet_NaN();
  const float inv = finite && amax > 0.f ? qmax / amax : 0.f;
  auto code = [&](int64_t i) -> int {
    if (i >= n) return 0;
    const float q = std::nearbyint(static_cast<float>(x[i]) * inv);  // the default mode: half to even
    return static_cast<int>(std::min(qmax, std::max(-qmax, q == q ? q : 0.f)));
  };
  if (bits == 8) {
    for (int64_t i = 0; i < block_size; ++i) payload[i] = static_cast<uint8_t>(static_cast<int8_t>(code(i)));
  } else {
    for (int64_t i = 0; i < block_size; i += 2) payload[i / 2] = static_cast<uint8_t>((code(i) + 8) | ((code(i + 1) + 8) << 4));
  }
}

template <typename T>
void dequantize_block(const uint8_t* payload, float scale, int64_t n, int bits, T* out) {
  for (int64_t i = 0; i < n; ++i) {
    const int q = bits == 8 ? static_cast<int8_t>(payload[i]) : ((payload[i / 2] >> (4 * (i & 1))) & 0xF) - 8;
    out[i] = static_cast<T>(static_cast<float>(q) * scale);
  }
}

}  // namespace

BlockQuantizer::BlockQuantizer(int bits, int64_t block_size) : bits_(bits), block_size_(block_size) {
  require(bits == 8 || bits == 4, "bits must be 8 or 4, not " + std::to_string(bits));
  require(block_size > 0 && block_size % 8 == 0,
          "the block size must be a positive multiple of 8, not " + std::to_string(block_size));
}

void BlockQuantizer::quantize_into(const at::Tensor& x, const at::Tensor& payload, const at::Tensor& scales) const {
  require(x.defined() && x.is_contiguous(), "the tensor to quantize must be defined and contiguous");
  require(is_codec_float(x.scalar_type()), "quantizes float32, bfloat16 or float16, not " + std::string(c10::toString(x.scalar_type())));
  const int64_t numel = x.numel();
  require_buffer(payload, "payload", at::kByte, payload_bytes(numel), x.device());
  require_buffer(scales, "scales", at::kFloat, num_blocks(numel), x.device());
  if (numel == 0) return;
  if (x.is_cuda()) {
#ifdef ZS_WITH_CUDA
    quantize_blocks_cuda(x, bits_, block_size_, payload, scales);
    return;
#else
    require(false, "a CUDA tensor needs a GPU build of ZeroShard");
#endif
  }
  require(x.is_cpu(), "tensors on " + x.device().str() + " are not supported");
  const int64_t blocks = num_blocks(numel), block = block_size_, bytes = block * bits_ / 8;
  uint8_t* p = payload.data_ptr<uint8_t>();
  float* s = scales.data_ptr<float>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "quantize_blocks", [&] {
    const scalar_t* data = x.const_data_ptr<scalar_t>();
    at::parallel_for(0, blocks, 16, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        quantize_block(data + b * block, std::min(block, numel - b * block), block, bits_, p + b * bytes, s + b);
      }
    });
  });
}

void BlockQuantizer::dequantize_into(const at::Tensor& payload, const at::Tensor& scales, const at::Tensor& out) const {
  require(out.defined() && out.is_contiguous(), "the output must be defined and contiguous");
  require(is_codec_float(out.scalar_type()), "dequantizes into float32, bfloat16 or float16, not " +
                                                 std::string(c10::toString(out.scalar_type())));
  const int64_t numel = out.numel();
  require_buffer(payload, "payload", at::kByte, payload_bytes(numel), out.device());
  require_buffer(scales, "scales", at::kFloat, num_blocks(numel), out.device());
  if (numel == 0) return;
  if (out.is_cuda()) {
#ifdef ZS_WITH_CUDA
    dequantize_blocks_cuda(payload, scales, bits_, block_size_, out);
    return;
#else
    require(false, "a CUDA tensor needs a GPU build of ZeroShard");
#endif
  }
  require(out.is_cpu(), "tensors on " + out.device().str() + " are not supported");
  const int64_t blocks = num_blocks(numel), block = block_size_, bytes = block * bits_ / 8;
  const uint8_t* p = payload.const_data_ptr<uint8_t>();
  const float* s = scales.const_data_ptr<float>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, out.scalar_type(), "dequantize_blocks", [&] {
    scalar_t* data = out.data_ptr<scalar_t>();
    at::parallel_for(0, blocks, 16, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        dequantize_block(p + b * bytes, s[b], std::min(block, numel - b * block), bits_, data + b * block);
      }
    });
  });
}

QuantizedTensor BlockQuantizer::quantize(const at::Tensor& x) const {
  QuantizedTensor q;
  q.numel = x.numel();
  auto opts = at::TensorOptions().device(x.device());
  q.payload = at::empty({payload_bytes(q.numel)}, opts.dtype(at::kByte));
  q.scales = at::empty({num_blocks(q.numel)}, opts.dtype(at::kFloat));
  quantize_into(x, q.payload, q.scales);
  return q;
}

at::Tensor BlockQuantizer::dequantize(const QuantizedTensor& q, at::ScalarType dtype) const {
  at::Tensor out = at::empty({q.numel}, at::TensorOptions().dtype(dtype).device(q.payload.device()));
  dequantize_into(q.payload, q.scales, out);
  return out;
}

at::Tensor BlockQuantizer::packed_scales(const at::Tensor& packed, int64_t numel) const {
  require(packed.defined() && packed.is_contiguous() && packed.scalar_type() == at::kByte,
          "the packed buffer must be a contiguous uint8 tensor");
  require(packed.numel() == packed_bytes(numel), "the packed buffer has " + std::to_string(packed.numel()) +
                                                     " bytes, want " + std::to_string(packed_bytes(numel)));
  require(reinterpret_cast<uintptr_t>(packed.data_ptr()) % 4 == 0, "the packed buffer must be 4-byte aligned");
  return packed.slice(0, payload_bytes(numel)).view(at::kFloat);
}

void BlockQuantizer::quantize_packed(const at::Tensor& x, const at::Tensor& packed) const {
  at::Tensor scales = packed_scales(packed, x.numel());
  quantize_into(x, packed.slice(0, 0, payload_bytes(x.numel())), scales);
}

void BlockQuantizer::dequantize_packed(const at::Tensor& packed, const at::Tensor& out) const {
  at::Tensor scales = packed_scales(packed, out.numel());
  dequantize_into(packed.slice(0, 0, payload_bytes(out.numel())), scales, out);
}

}  // namespace zs
