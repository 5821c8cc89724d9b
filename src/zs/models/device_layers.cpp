#include "zs/models/device_layers.hpp"

#include <ATen/ops/embedding.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>

#ifdef ZS_WITH_CUDA
#include "zs/models/norm_bias_cuda.hpp"
#endif

namespace zs {

DeviceLinearImpl::DeviceLinearImpl(int64_t in_features, int64_t out_features, bool with_bias, c10::Device device) {
  weight = register_parameter("weight", at::empty({out_features, in_features}, fp32_on(device)));
  if (with_bias) bias = register_parameter("bias", at::empty({out_features}, fp32_on(device)));
}

// ATen's linear, not the C++ frontend's Linear::forward: on [B, T, C] inputs the latter runs a
// matmul and then adds the bias in a separate broadcast kernel, where ATen folds the bias into the
// GEMM (about 8% of a GPT-2 1.5B step on an H200).
// On GPUs in training the bias gradient comes from our column-sum kernel, and both gradients are
// written where the engine wants them (norm_bias_cuda.hpp).
at::Tensor DeviceLinearImpl::forward(const at::Tensor& x) {
#ifdef ZS_WITH_CUDA
  if (fused_norm_bias_applies(x, weight)) return linear_cuda(x, weight, bias);
#endif
  return at::linear(x, weight, bias);
}

DeviceEmbeddingImpl::DeviceEmbeddingImpl(int64_t num_embeddings, int64_t dim, c10::Device device) {
  weight = register_parameter("weight", at::empty({num_embeddings, dim}, fp32_on(device)));
}

at::Tensor DeviceEmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

}  // namespace zs
