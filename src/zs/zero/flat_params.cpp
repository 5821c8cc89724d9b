#include "zs/zero/flat_params.hpp"

#include <stdexcept>

#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

namespace zs {

FlatParams::FlatParams(std::vector<NamedParam> params, FlatLayout layout, bool keep_grad_buffer,
                       at::TensorOptions options)
    : params_(std::move(params)), layout_(std::move(layout)) {
  if (params_.size() != layout_.entries.size()) throw std::invalid_argument("FlatParams: layout does not match the parameters");
  for (const auto& p : params_) {
    if (p.tensor.scalar_type() != options.dtype().toScalarType() || p.tensor.device() != options.device())
      throw std::invalid_argument("parameter " + p.name + " is " + std::string(c10::toString(p.tensor.scalar_type())) +
                                  " on " + p.tensor.device().str() +
                                  "; all trainable parameters must share one dtype and device");
  }
  c10::NoGradGuard no_grad;
  // Zeros: the padding between parameters and at bucket ends must stay zero in every buffer.
  buffer_ = at::zeros({layout_.total_numel}, options.requires_grad(false));
  if (keep_grad_buffer) grad_buffer_ = at::zeros({layout_.total_numel}, options.requires_grad(false));
  for (size_t i = 0; i < params_.size(); ++i) {
    const FlatEntry& e = layout_.entries[i];
    at::Tensor& p = params_[i].tensor;
    at::Tensor view = buffer_.narrow(0, e.offset, e.numel).view(p.sizes());
    view.copy_(p.detach());
    p.set_data(view);
    if (keep_grad_buffer) grad_views_.push_back(grad_buffer_.narrow(0, e.offset, e.numel).view(p.sizes()));
  }
  attach_grads();
}

at::Tensor FlatParams::bucket(int b) const {
  const FlatBucket& k = layout_.buckets[b];
  return buffer_.narrow(0, k.offset, k.numel);
}

at::Tensor FlatParams::chunk(int b, int rank) const {
  return buffer_.narrow(0, layout_.chunk_offset(b, rank), layout_.buckets[b].chunk);
}

at::Tensor FlatParams::grad_bucket(int b) const {
  const FlatBucket& k = layout_.buckets[b];
  return grad_buffer_.narrow(0, k.offset, k.numel);
}

void FlatParams::zero_grad_buffer() {
  if (grad_buffer_.defined()) grad_buffer_.zero_();
}

void FlatParams::attach_grads() {
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].tensor;
    if (!grad_buffer_.defined()) {
      p.mutable_grad().reset();
    } else if (!p.grad().defined() || !p.grad().is_same(grad_views_[i])) {
      // A user reset or replaced .grad; fold what it holds into the buffer and re-point it.
      if (p.grad().defined()) grad_views_[i].add_(p.grad());
      p.mutable_grad() = grad_views_[i];
    }
  }
}

}  // namespace zs
