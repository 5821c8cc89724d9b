// GraphedLoss (graphed_loss.hpp): capture once, replay on every micro-step. GPU builds only.
//
// The capture follows CUDA's rules for graphs: a side stream, warm-up runs there first (cuBLAS and
// cuDNN set themselves up lazily, which a capture may not), then the forward and the backward each
// captured into one graph. Both draw from one private memory pool, so the activations the
// forward leaves for the backward stay where the backward graph reads them; replays go forward,
// backward, forward, ... as captured.
#include "zs/engine/graphed_loss.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include <ATen/core/grad_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <ATen/ops/ones_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

namespace zs {

struct GraphedLoss::Capture {
  at::cuda::CUDAGraph forward, backward;
  std::vector<at::Tensor> batch;   // the forward graph reads the batch from here
  at::Tensor loss;                 // and writes the loss here
  at::Tensor grad_loss;            // the backward graph reads d(result)/d(loss) from here
  std::vector<at::Tensor> grads;   // and writes each parameter's gradient here (undefined: unused)
};

namespace {

// What a failed capture means, for its message.
constexpr const char* kCannotCapture =
    "work that waits for the GPU or reads a value back to the host (a .item(), a data-dependent shape, a "
    "synchronisation) cannot be captured; run without --cuda_graph. The error: ";

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "] " + std::string(c10::toString(t.scalar_type()));
}

// Autograd's view of a replay: the parameters go in, the loss comes out, and its backward replays
// the backward graph.
struct ReplayedLoss : torch::autograd::Function<ReplayedLoss> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, GraphedLoss::Capture* capture, at::TensorList params) {
    (void)params;  // inputs only so that autograd hands them the gradients
    ctx->saved_data["capture"] = reinterpret_cast<int64_t>(capture);
    capture->forward.replay();
    return capture->loss.clone();  // the caller may keep it past the next replay
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grad_outputs) {
    auto* capture = reinterpret_cast<GraphedLoss::Capture*>(ctx->saved_data["capture"].toInt());
    capture->grad_loss.copy_(grad_outputs[0]);
    capture->backward.replay();
    torch::autograd::tensor_list grads{at::Tensor()};  // none for the capture pointer
    grads.insert(grads.end(), capture->grads.begin(), capture->grads.end());
    return grads;
  }
};

}  // namespace

GraphedLoss::GraphedLoss(LossFn loss, std::vector<at::Tensor> params, std::vector<at::Tensor> buffers)
    : loss_(std::move(loss)), params_(std::move(params)), buffers_(std::move(buffers)) {
  if (params_.empty()) throw std::invalid_argument("cuda graph: the model has no parameter that wants a gradient");
  for (const at::Tensor& p : params_)
    if (!p.is_cuda()) throw std::invalid_argument("cuda graph: the model's parameters must be on a GPU");
}

GraphedLoss::~GraphedLoss() = default;

void GraphedLoss::capture(const std::vector<at::Tensor>& batch) {
  auto cap = std::make_unique<Capture>();
  for (const at::Tensor& t : batch) {
    if (!t.is_cuda()) throw std::invalid_argument("cuda graph: every batch tensor must be on the GPU, got one on " + t.device().str());
    cap->batch.push_back(t.clone());
  }
  std::vector<at::Tensor> saved_buffers;
  for (const at::Tensor& b : buffers_) saved_buffers.push_back(b.clone());

  const c10::cuda::CUDAGuard device(params_.front().device());
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream();
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  at::cuda::CUDAEvent ready;
  ready.record(caller);
  ready.block(side);
  {
    const c10::cuda::CUDAStreamGuard on_side(side);
    // Warm-up: every library the step touches sets itself up now, on the stream of the capture.
    for (int i = 0; i < 3; ++i) {
      const at::Tensor loss = loss_(cap->batch);
      torch::autograd::grad({loss}, params_, {at::ones_like(loss)}, /*retain_graph=*/false, /*create_graph=*/false,
                            /*allow_unused=*/true);
    }
    {
      at::NoGradGuard no_grad;
      for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].copy_(saved_buffers[i]);
    }
    side.synchronize();
    // Thread-local capture mode: the engine's other threads (communicators, offload) keep working;
    // the autograd thread's launches into the side stream are captured all the same.
    try {
      cap->forward.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      cap->loss = loss_(cap->batch);
      cap->forward.capture_end();
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("cuda graph: capturing the forward failed: ") + kCannotCapture + e.what());
    }
    if (cap->loss.numel() != 1 || !cap->loss.requires_grad())
      throw std::invalid_argument("cuda graph: the forward must return a scalar loss that needs a gradient");
    cap->grad_loss = at::ones_like(cap->loss);
    try {
      cap->backward.capture_begin(cap->forward.pool(), cudaStreamCaptureModeThreadLocal);
      cap->grads = torch::autograd::grad({cap->loss}, params_, {cap->grad_loss}, /*retain_graph=*/false,
                                         /*create_graph=*/false, /*allow_unused=*/true);
      cap->backward.capture_end();
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("cuda graph: capturing the backward failed: ") + kCannotCapture + e.what());
    }
    cap->loss = cap->loss.detach();
  }
  at::cuda::CUDAEvent captured;
  captured.record(side);
  captured.block(caller);
  capture_ = std::move(cap);
}

at::Tensor GraphedLoss::operator()(const std::vector<at::Tensor>& batch) {
  if (!capture_) capture(batch);
  Capture& cap = *capture_;
  if (batch.size() != cap.batch.size())
    throw std::invalid_argument("cuda graph: the batch has " + std::to_string(batch.size()) + " tensors, the captured one " +
                                std::to_string(cap.batch.size()));
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].sizes() != cap.batch[i].sizes() || batch[i].scalar_type() != cap.batch[i].scalar_type())
      throw std::invalid_argument("cuda graph: batch tensor " + std::to_string(i) + " is " + shape_of(batch[i]) +
                                  ", the captured one " + shape_of(cap.batch[i]) +
                                  ": a graph replays fixed shapes (run without --cuda_graph for varying ones)");
    cap.batch[i].copy_(batch[i], /*non_blocking=*/true);
  }
  return ReplayedLoss::apply(&cap, at::TensorList(params_));
}

}  // namespace zs
