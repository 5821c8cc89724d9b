// The model's trainable parameters moved into one flat buffer; each parameter becomes a view.
//
// Optimizer updates and collectives then work on large contiguous ranges (buckets, chunks)
// instead of hundreds of small tensors. When a full gradient buffer is kept (stages 0 and 1),
// each parameter's .grad is pre-set to a view into it, so backward accumulates in place and
// no gradient is ever copied.
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/zero/flat_layout.hpp"

namespace zs {

struct NamedParam {
  std::string name;
  at::Tensor tensor;   // the module's parameter (a leaf that requires grad)
};

class FlatParams {
 public:
  // `params` in layout order; the layout's entries match them one to one. Parameter values are
  // copied into the buffer, then each parameter's storage is replaced by its view. `options`:
  // the buffers' dtype and device (every parameter must match them; the list may be empty).
  FlatParams(std::vector<NamedParam> params, FlatLayout layout, bool keep_grad_buffer, at::TensorOptions options);

  const FlatLayout& layout() const { return layout_; }
  const std::vector<NamedParam>& params() const { return params_; }
  at::ScalarType dtype() const { return buffer_.scalar_type(); }

  const at::Tensor& buffer() const { return buffer_; }
  at::Tensor bucket(int b) const;              // all of bucket b
  at::Tensor chunk(int b, int rank) const;     // rank's chunk of bucket b

  bool has_grad_buffer() const { return grad_buffer_.defined(); }
  at::Tensor grad_bucket(int b) const;
  void zero_grad_buffer();
  // Re-points every .grad at its view (after user code reset .grad, e.g. zero_grad()).
  void attach_grads();

 private:
  std::vector<NamedParam> params_;
  FlatLayout layout_;
  at::Tensor buffer_, grad_buffer_;
  std::vector<at::Tensor> grad_views_;
};

}  // namespace zs
