// Activation checkpointing: run a function without keeping its activations, and recompute them
// during backward. The recomputation sees the random-number state of the original forward, so
// dropout masks match and the gradients equal those of the plain run.
#pragma once

#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/zero/unit.hpp"

namespace zs {

// body(inputs) without autograd history inside; the backward of its outputs re-runs body with
// autograd on and differentiates that (parameters used by body receive their gradients then, and
// so do the inputs that require them). Outputs that are not floating point get no history. With
// autograd off this is just body(inputs).
// `unit`: the module whose forward body is; during the recompute result_is_unread(*unit) holds
// (zero/unit.hpp), so it may skip what only makes its result's values. ZS_RECOMPUTE_UNREAD=0
// turns that off (every recompute then runs the whole forward). Each call has a RecomputeStore
// (zero/recompute_store.hpp): what body keeps in it during the forward, its recompute takes back.
std::vector<at::Tensor> checkpointed(const UnitBody& body, const std::vector<at::Tensor>& inputs,
                                     const torch::nn::Module* unit = nullptr);

// The same for a function of one tensor.
at::Tensor checkpointed(const std::function<at::Tensor(const at::Tensor&)>& fn, const at::Tensor& x);

}  // namespace zs
