// A training micro-step's forward and backward as two CUDA graphs (trainers' --cuda_graph): the
// host launches each as one call instead of hundreds of kernels, which is what small models wait
// on (torch.compile's mode="reduce-overhead" does the same). GPU builds only.
//
//   GraphedLoss graphed(loss_fn, params, buffers);
//   at::Tensor loss = graphed(batch);   // the first call captures, every call replays the forward
//   engine.backward(loss);              // autograd replays the backward graph: each parameter gets
//   engine.step();                      // its gradient as from an eager backward, hooks included
//
// Only the model's forward and backward are captured; everything the engine does around them
// (gradient reductions, clipping, the optimizer, logging) runs eagerly as always. So the engine
// must not act inside the forward (Engine::cuda_graph_obstacle says when it does). The batch must
// have the captured shapes every call. Dropout draws new numbers on every replay.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace zs {

class Engine;

class GraphedLoss {
 public:
  using LossFn = std::function<at::Tensor(const std::vector<at::Tensor>& batch)>;
  // `loss`: the forward of a batch to its 0-dim loss; `params`: every parameter that wants a
  // gradient; `buffers`: module state the forward updates in place (BatchNorm's running
  // statistics), restored after the warm-up runs that precede the capture.
  GraphedLoss(LossFn loss, std::vector<at::Tensor> params, std::vector<at::Tensor> buffers);
  ~GraphedLoss();
  GraphedLoss(const GraphedLoss&) = delete;
  GraphedLoss& operator=(const GraphedLoss&) = delete;

  // The loss of `batch` (device tensors, the same shapes and dtypes on every call), with a
  // gradient function that replays the backward graph.
  at::Tensor operator()(const std::vector<at::Tensor>& batch);

  struct Capture;

 private:
  void capture(const std::vector<at::Tensor>& batch);

  LossFn loss_;
  std::vector<at::Tensor> params_, buffers_;
  std::unique_ptr<Capture> capture_;
};

// What a program with a --cuda_graph switch calls: `loss` as a GraphedLoss over `module`'s
// parameters that want gradients (its buffers restored after the warm-up). Throws
// std::invalid_argument saying why when `engine` cannot run under graphs
// (Engine::cuda_graph_obstacle) or the build has no CUDA. Defined in every build.
GraphedLoss::LossFn make_graphed_loss(const Engine& engine, torch::nn::Module& module, GraphedLoss::LossFn loss);

}  // namespace zs
