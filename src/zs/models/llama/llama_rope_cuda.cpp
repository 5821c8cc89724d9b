// apply_rotary's CUDA path: the fused kernel of llama_rope_kernels.cu as an autograd function (one
// kernel forward, one backward, instead of ATen's chain of broadcast multiplies, a roll and an add
// in each direction). GPU builds only; same values as the ATen formula, bit for bit.
#include "zs/models/llama/llama_rope_cuda.hpp"

#include <stdexcept>
#include <string>

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/autograd/custom_function.h>

#include "zs/kernels/check_launch.hpp"
#include "zs/models/llama/llama_rope_kernels.hpp"

namespace zs {
namespace {

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// x: [B, T, heads, head_dim] with a unit stride on head_dim (a gradient may be a transposed view);
// returns a contiguous tensor.
at::Tensor run_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, bool backward) {
  const int64_t element = int64_t(x.element_size());
  const kernels::RopeShape shape{x.size(0), x.size(1), x.size(2), x.size(3), x.stride(0), x.stride(1), x.stride(2)};
  const bool strides_aligned = (shape.stride_batch * element) % 16 == 0 && (shape.stride_seq * element) % 16 == 0 &&
                               (shape.stride_head * element) % 16 == 0;
  const at::Tensor input = (x.stride(3) == 1 && strides_aligned && aligned16(x.const_data_ptr())) ? x : x.contiguous();
  const kernels::RopeShape used = input.is_same(x)
      ? shape
      : kernels::RopeShape{x.size(0), x.size(1), x.size(2), x.size(3), input.stride(0), input.stride(1), input.stride(2)};
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(c10::MemoryFormat::Contiguous));
  c10::cuda::CUDAGuard guard(x.device());
  kernels::launch_rotary(input.const_data_ptr(), used, cos.const_data_ptr(), sin.const_data_ptr(), out.data_ptr(),
                         kernels::float_kind(x.scalar_type()), backward, c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("rotary embedding kernel");
  return out;
}

struct FusedRotary : torch::autograd::Function<FusedRotary> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos,
                            const at::Tensor& sin) {
    ctx->save_for_backward({cos, sin});
    return run_rotary(x, cos, sin, /*backward=*/false);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    return {run_rotary(grads[0], saved[0], saved[1], /*backward=*/true), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool fused_rotary_applies(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const auto dtype = x.scalar_type();
  const bool float_dtype = dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf;
  return x.is_cuda() && x.dim() == 4 && float_dtype && x.size(3) % 16 == 0 && x.stride(3) == 1 &&
         cos.scalar_type() == dtype && sin.scalar_type() == dtype && cos.is_contiguous() && sin.is_contiguous() &&
         cos.dim() == 2 && cos.size(0) == x.size(1) && cos.size(1) == x.size(3) && cos.sizes() == sin.sizes() &&
         cos.device() == x.device() && sin.device() == x.device() && !cos.requires_grad() && !sin.requires_grad() &&
         aligned16(cos.const_data_ptr()) && aligned16(sin.const_data_ptr());
}

at::Tensor apply_rotary_fused(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return FusedRotary::apply(x, cos, sin);
}

}  // namespace zs
