#pragma once
// Top-1 / top-5 counts of a batch of logits, for evaluation. Counts (not rates) so ranks can sum
// them (an all-reduce of three integers) and batches can be added up before dividing.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace zs {

struct TopKCounts {
  int64_t top1 = 0;   // samples whose highest logit is their label
  int64_t top5 = 0;   // samples whose label is among their 5 highest logits (all of them when < 5 classes)
  int64_t total = 0;  // samples counted: labels < 0 (the loader's padding, kIgnoreLabel) are left out

  TopKCounts& operator+=(const TopKCounts& o) {
    top1 += o.top1;
    top5 += o.top5;
    total += o.total;
    return *this;
  }
  double top1_accuracy() const { return total > 0 ? double(top1) / double(total) : 0.0; }
  double top5_accuracy() const { return total > 0 ? double(top5) / double(total) : 0.0; }
};

// logits [B, C] (any float type, any device), labels [B] integer. Ties are broken the way
// at::topk breaks them. Throws std::invalid_argument for mismatched shapes or a label >= C.
TopKCounts count_topk(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace zs
