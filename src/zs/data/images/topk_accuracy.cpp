#include "zs/data/images/topk_accuracy.hpp"

#include <ATen/ops/eq.h>
#include <ATen/ops/ge.h>
#include <ATen/ops/topk.h>

#include <algorithm>
#include <stdexcept>

namespace zs {

TopKCounts count_topk(const at::Tensor& logits, const at::Tensor& labels) {
  if (logits.dim() != 2 || labels.dim() != 1 || logits.size(0) != labels.size(0))
    throw std::invalid_argument("count_topk: expected logits [B, C] and labels [B]");
  if (logits.size(0) == 0) return {};
  if (at::isFloatingType(labels.scalar_type()))
    throw std::invalid_argument("count_topk: labels must be integers");
  const int64_t classes = logits.size(1);
  const at::Tensor y = labels.to(logits.device(), at::kLong);
  if (y.max().item<int64_t>() >= classes)
    throw std::invalid_argument("count_topk: a label is >= the " + std::to_string(classes) + " classes of the logits");
  const int64_t k = std::min<int64_t>(5, classes);
  const at::Tensor top = std::get<1>(at::topk(logits.detach(), k, /*dim=*/1));  // [B, k], best first
  const at::Tensor hit = at::eq(top, y.unsqueeze(1));                          // padding (< 0) never hits
  TopKCounts out;
  out.top1 = hit.select(1, 0).sum().item<int64_t>();
  out.top5 = hit.any(1).sum().item<int64_t>();
  out.total = at::ge(y, 0).sum().item<int64_t>();
  return out;
}

}  // namespace zs
