#include "zs/models/cross_entropy.hpp"

#include <ATen/ops/cross_entropy_loss.h>

#ifdef ZS_WITH_CUDA
#include "zs/models/cross_entropy_cuda.hpp"
#endif

namespace zs {

at::Tensor token_cross_entropy(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index) {
  const int64_t vocab = logits.size(-1);
  const at::Tensor rows = logits.reshape({-1, vocab}), row_targets = targets.reshape({-1});
#ifdef ZS_WITH_CUDA
  if (fused_cross_entropy_applies(rows, row_targets)) return cross_entropy_fused(rows, row_targets, ignore_index);
#endif
  return at::cross_entropy_loss(rows.to(at::kFloat), row_targets, /*weight=*/{}, at::Reduction::Mean, ignore_index);
}

}  // namespace zs
