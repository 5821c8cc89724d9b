// swiglu_fused: the kernels of swiglu_kernels.cu as an autograd function. GPU builds only.
#include "zs/models/llama/swiglu_cuda.hpp"

#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/autograd/custom_function.h>

#include "zs/config/env.hpp"
#include "zs/kernels/check_launch.hpp"
#include "zs/models/llama/swiglu_kernels.hpp"

namespace zs {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct SwiGlu : torch::autograd::Function<SwiGlu> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate_in, const at::Tensor& up_in) {
    const at::Tensor gate = gate_in.contiguous(), up = up_in.contiguous();
    at::Tensor out = at::empty_like(gate, c10::MemoryFormat::Contiguous);
    const c10::cuda::CUDAGuard guard(gate.device());
    kernels::launch_swiglu_forward(gate.const_data_ptr(), up.const_data_ptr(), out.data_ptr(), gate.numel(),
                                   kernels::float_kind(gate.scalar_type()), c10::cuda::getCurrentCUDAStream().stream());
    kernels::check_launch("SwiGLU forward kernel");
    ctx->save_for_backward({gate, up});
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& gate = saved[0];
    const at::Tensor& up = saved[1];
    const at::Tensor dout = grads[0].contiguous();
    at::Tensor dgate = at::empty_like(gate), dup = at::empty_like(up);
    const c10::cuda::CUDAGuard guard(gate.device());
    kernels::launch_swiglu_backward(dout.const_data_ptr(), gate.const_data_ptr(), up.const_data_ptr(), dgate.data_ptr(),
                                    dup.data_ptr(), gate.numel(), kernels::float_kind(gate.scalar_type()),
                                    c10::cuda::getCurrentCUDAStream().stream());
    kernels::check_launch("SwiGLU backward kernel");
    return {dgate, dup};
  }
};

}  // namespace

bool fused_swiglu_applies(const at::Tensor& gate, const at::Tensor& up) {
  static const bool on = switch_from_env("ZS_FUSED_SWIGLU");
  const auto dtype = gate.scalar_type();
  const bool float_dtype = dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf;
  return on && gate.is_cuda() && float_dtype && up.scalar_type() == dtype && up.device() == gate.device() &&
         up.sizes() == gate.sizes();
}

at::Tensor swiglu_fused(const at::Tensor& gate, const at::Tensor& up) { return SwiGlu::apply(gate, up); }

}  // namespace zs
