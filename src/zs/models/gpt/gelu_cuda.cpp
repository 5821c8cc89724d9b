// gelu_by_table: the tables, built once per GPU from ATen's own GELU kernels, and the kernels of
// gelu_kernels.cu as an autograd function. GPU builds only.
#include "zs/models/gpt/gelu_cuda.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <ATen/ops/empty_like.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/gelu_backward.h>
#include <ATen/ops/ones.h>
#include <c10/cuda/CUDAGraphsC10Utils.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/autograd/custom_function.h>

#include "zs/config/env.hpp"
#include "zs/kernels/check_launch.hpp"
#include "zs/models/gpt/gelu_kernels.hpp"

namespace zs {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct GeluTables {
  at::Tensor outputs;  // bfloat16: ATen's gelu of every table value
  at::Tensor factors;  // float32: ATen's gradient of every table value for an incoming gradient of 1
};

// The tables for x's GPU, made on first use, outside any CUDA graph capture (a graph's warm-up
// runs make them before its capture). ATen's gradient kernel computes in fp32 for bfloat16 inputs,
// so its factor for an incoming gradient of 1 in fp32 is the very factor it multiplies a bfloat16
// gradient by.
const GeluTables& tables_for(const at::Tensor& x) {
  static std::mutex mutex;
  // Never destroyed: no GPU memory is freed during the process's static destruction, after the
  // CUDA runtime may have gone.
  static auto& by_device = *new std::map<c10::DeviceIndex, GeluTables>();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = by_device.find(x.device().index());
  if (it != by_device.end()) return it->second;
  const c10::cuda::CUDAGuard guard(x.device());
  TORCH_CHECK(c10::cuda::currentStreamCaptureStatusMayInitCtx() == c10::cuda::CaptureStatus::None,
              "GELU by table: its tables are made on first use, which a CUDA graph capture cannot hold; run the "
              "model once before capturing it (or set ZS_GELU_TABLE=0)");
  std::vector<uint16_t> bits(kernels::kGeluTableSize);
  for (int i = 0; i < kernels::kGeluTableSize; ++i) bits[size_t(i)] = kernels::gelu_table_bits(i);
  at::NoGradGuard no_grad;
  const at::Tensor values = at::from_blob(bits.data(), {kernels::kGeluTableSize}, at::TensorOptions().dtype(at::kShort))
                                .view(at::kBFloat16)
                                .to(x.device());
  GeluTables t;
  t.outputs = at::gelu(values).contiguous();
  t.factors = at::gelu_backward(at::ones({kernels::kGeluTableSize}, values.options().dtype(at::kFloat)),
                                values.to(at::kFloat))
                  .contiguous();
  // The kernels copy the tables in 16-byte words.
  TORCH_CHECK(reinterpret_cast<uintptr_t>(t.outputs.const_data_ptr()) % 16 == 0 &&
                  reinterpret_cast<uintptr_t>(t.factors.const_data_ptr()) % 16 == 0,
              "GELU by table: a table is not 16-byte aligned");
  // Finished before any stream may read them.
  c10::cuda::getCurrentCUDAStream().synchronize();
  return by_device.emplace(x.device().index(), std::move(t)).first->second;
}

struct GeluByTable : torch::autograd::Function<GeluByTable> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x_in) {
    const at::Tensor x = x_in.contiguous();
    const GeluTables& t = tables_for(x);
    at::Tensor y = at::empty_like(x, c10::MemoryFormat::Contiguous);
    const c10::cuda::CUDAGuard guard(x.device());
    kernels::launch_gelu_forward_bf16(x.const_data_ptr(), y.data_ptr(), x.numel(), t.outputs.const_data_ptr(),
                                      c10::cuda::getCurrentCUDAStream().stream());
    kernels::check_launch("GELU forward kernel");
    ctx->save_for_backward({x});
    return y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const at::Tensor x = ctx->get_saved_variables()[0];
    const at::Tensor dy = grads[0].contiguous();
    const GeluTables& t = tables_for(x);
    at::Tensor dx = at::empty_like(x);
    const c10::cuda::CUDAGuard guard(x.device());
    kernels::launch_gelu_backward_bf16(dy.const_data_ptr(), x.const_data_ptr(), dx.data_ptr(), x.numel(),
                                       t.factors.const_data_ptr<float>(), c10::cuda::getCurrentCUDAStream().stream());
    kernels::check_launch("GELU backward kernel");
    return {dx};
  }
};

}  // namespace

bool gelu_by_table_applies(const at::Tensor& x, const std::string& approximate) {
  static const bool on = switch_from_env("ZS_GELU_TABLE");
  return on && approximate == "none" && x.is_cuda() && x.scalar_type() == at::kBFloat16;
}

at::Tensor gelu_by_table(const at::Tensor& x) { return GeluByTable::apply(x); }

}  // namespace zs
