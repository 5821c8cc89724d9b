#pragma once
// Linear and embedding layers whose parameters are created on the device the model is built on and
// left uninitialised for the model to fill (torch::nn::Linear and Embedding initialise on the host).
// On at::kMeta they take no memory, so an engine can materialise a large model one unit at a time
// straight into its shards. The GPT and the Llama build on them.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace zs {

// Options for an fp32 parameter made on `device` (the models keep fp32 parameters; the engine
// chooses the compute precision).
inline at::TensorOptions fp32_on(c10::Device device) { return at::TensorOptions().dtype(at::kFloat).device(device); }

// y = x W^T (+ b) with W: [out, in], fp32 parameters. With bias=false no "bias" parameter exists.
class DeviceLinearImpl : public torch::nn::Module {
 public:
  DeviceLinearImpl(int64_t in_features, int64_t out_features, bool bias, c10::Device device);
  at::Tensor forward(const at::Tensor& x);
  // For a result that is only differentiated, never read (zero/unit.hpp's result_is_unread): where
  // our GPU linear runs, its autograd history with uninitialised values and no GEMM; elsewhere
  // forward(x). Either way backward gives the same gradients as forward(x)'s.
  at::Tensor forward_unevaluated(const at::Tensor& x);

  at::Tensor weight;
  at::Tensor bias;  // undefined when built with bias=false
};
TORCH_MODULE(DeviceLinear);

// {layers[k]->forward(x)...} for linear layers that share their input x. On GPUs in training one
// autograd node whose backward sums x's gradient inside the GEMMs instead of one add per further
// layer (norm_bias_cuda.hpp's linears_cuda; ZS_SHARED_INPUT_LINEARS=0 turns it off); elsewhere, or
// when only some layers have a bias, each layer's forward.
std::vector<at::Tensor> shared_input_linears(const at::Tensor& x, const std::vector<DeviceLinear>& layers);

// a + b (same shape and dtype) as autograd sees it, without the arithmetic: a result with the
// sum's autograd history (its gradient reaches a and b unchanged, as the sum's does) and
// uninitialised values. For a forward whose result is never read (result_is_unread).
at::Tensor sum_unevaluated(const at::Tensor& a, const at::Tensor& b);

// Embedding table [num_embeddings, dim] (tokens or positions), fp32.
class DeviceEmbeddingImpl : public torch::nn::Module {
 public:
  DeviceEmbeddingImpl(int64_t num_embeddings, int64_t dim, c10::Device device);
  at::Tensor forward(const at::Tensor& ids);

  at::Tensor weight;
};
TORCH_MODULE(DeviceEmbedding);

}  // namespace zs
