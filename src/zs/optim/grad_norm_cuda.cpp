// squared_norm_cuda: checks the tensors and launches the kernels of grad_norm_kernels.cu on the
// current stream of their GPU.
#include "zs/optim/grad_norm_cuda.hpp"

#include <stdexcept>

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "zs/kernels/check_launch.hpp"
#include "zs/optim/grad_norm_kernels.hpp"

namespace zs {

bool squared_norm_cuda_applies(const std::vector<at::Tensor>& tensors) {
  if (tensors.empty()) return false;
  const at::Tensor& first = tensors.front();
  const auto dtype = first.defined() ? first.scalar_type() : at::kFloat;
  if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf) return false;
  for (const at::Tensor& t : tensors) {
    if (!t.defined() || !t.is_cuda() || t.device() != first.device() || t.scalar_type() != dtype || !t.is_contiguous())
      return false;
  }
  return true;
}

at::Tensor squared_norm_cuda(const std::vector<at::Tensor>& tensors) {
  if (!squared_norm_cuda_applies(tensors))
    throw std::invalid_argument("squared_norm_cuda: needs contiguous CUDA tensors of one floating dtype on one GPU");
  const at::Tensor& first = tensors.front();
  std::vector<kernels::NormSlot> slots;
  slots.reserve(tensors.size());
  for (const at::Tensor& t : tensors) slots.push_back({t.const_data_ptr(), t.numel()});
  const c10::cuda::CUDAGuard guard(first.device());
  const auto f32 = first.options().dtype(at::kFloat);
  at::Tensor scratch = at::empty({kernels::squared_norm_scratch(int(slots.size()))}, f32);
  at::Tensor out = at::empty({}, f32);
  kernels::launch_squared_norm(slots.data(), int(slots.size()), kernels::float_kind(first.scalar_type()),
                               scratch.data_ptr<float>(), out.data_ptr<float>(),
                               c10::cuda::getCurrentCUDAStream().stream());
  kernels::check_launch("squared norm kernels");
  return out;
}

}  // namespace zs
