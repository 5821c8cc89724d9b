// The language models' loss: mean cross-entropy over the targets that are not ignore_index,
// computed in fp32 whatever the logits' dtype (what nanoGPT and Hugging Face get with
// F.cross_entropy(logits.float(), ...)).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace zs {

// logits: [..., vocab]; targets: int64 with the logits' leading shape. On GPUs (GPU builds, when
// gradients are wanted) one kernel each way reads the 16-bit logits directly
// (cross_entropy_cuda.hpp); elsewhere ATen's cross_entropy on fp32 logits.
at::Tensor token_cross_entropy(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index);

}  // namespace zs
