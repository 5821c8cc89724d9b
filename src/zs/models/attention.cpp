#include "zs/models/attention.hpp"

#include <ATen/SDPBackend.h>
#include <ATen/ops/_fused_sdp_choice.h>
#include <ATen/ops/_scaled_dot_product_cudnn_attention.h>
#include <ATen/ops/_scaled_dot_product_cudnn_attention_backward.h>
#include <ATen/ops/_scaled_dot_product_flash_attention.h>
#include <ATen/ops/_scaled_dot_product_flash_attention_backward.h>
#include <ATen/ops/_scaled_dot_product_flash_attention_for_cpu.h>
#include <ATen/ops/_scaled_dot_product_flash_attention_for_cpu_backward.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <torch/csrc/autograd/custom_function.h>

#include "zs/config/env.hpp"
#include "zs/zero/recompute_store.hpp"

namespace zs {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What the checkpointed forward keeps of one attention call: the kernel SDPA chose and what its
// backward reads besides q, k and v.
struct KeptAttention {
  at::SDPBackend backend;
  at::Tensor out, logsumexp, philox_seed, philox_offset, cum_seq_q, cum_seq_k;
  int64_t max_q = 0, max_k = 0;
  uint32_t out_version = 0;  // out's version when kept: a later in-place change would be read in backward
};

// The SDPA kernels whose forward gives what their backward needs, run the way SDPA runs them:
// cuDNN; flash on GPUs at head sizes SDPA does not pad (multiples of 8); flash on the CPU. Others
// (efficient, math) are recomputed. So is attention with dropout: its recompute draws its mask
// from the random numbers the forward drew, and skipping it would shift the draws of every later
// dropout in the recompute.
std::optional<at::SDPBackend> keepable_backend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                               double dropout_p, bool enable_gqa) {
  if (dropout_p != 0.0) return std::nullopt;
  const auto backend =
      static_cast<at::SDPBackend>(at::_fused_sdp_choice(q, k, v, /*attn_mask=*/{}, dropout_p, /*is_causal=*/true,
                                                        /*scale=*/std::nullopt, enable_gqa));
  if (backend == at::SDPBackend::cudnn_attention && q.is_cuda()) return backend;
  if (backend == at::SDPBackend::flash_attention && (q.is_cpu() || q.size(-1) % 8 == 0)) return backend;
  return std::nullopt;
}

// What cuDNN's and flash's forwards return: output, logsumexp, cumulative sequence lengths (q, k),
// longest sequences (q, k), philox seed and offset, debug mask.
template <class Outputs>
void keep_outputs(const Outputs& r, KeptAttention& kept) {
  kept.out = std::get<0>(r);
  kept.logsumexp = std::get<1>(r);
  kept.cum_seq_q = std::get<2>(r);
  kept.cum_seq_k = std::get<3>(r);
  kept.max_q = std::get<4>(r).expect_int();
  kept.max_k = std::get<5>(r).expect_int();
  kept.philox_seed = std::get<6>(r);
  kept.philox_offset = std::get<7>(r);
}

// The forward once, as SDPA runs it when its inputs require gradients (statistics included). Kept
// attention has no dropout (keepable_backend).
std::shared_ptr<const KeptAttention> forward_kept(at::SDPBackend backend, const at::Tensor& q, const at::Tensor& k,
                                                  const at::Tensor& v) {
  auto kept = std::make_shared<KeptAttention>();
  kept->backend = backend;
  if (backend == at::SDPBackend::cudnn_attention)
    keep_outputs(at::_scaled_dot_product_cudnn_attention(q, k, v, /*attn_bias=*/std::nullopt,
                                                         /*compute_log_sumexp=*/true, /*dropout_p=*/0.0,
                                                         /*is_causal=*/true),
                 *kept);
  else if (q.is_cuda())
    keep_outputs(at::_scaled_dot_product_flash_attention(q, k, v, /*dropout_p=*/0.0, /*is_causal=*/true), *kept);
  else
    std::tie(kept->out, kept->logsumexp) =
        at::_scaled_dot_product_flash_attention_for_cpu(q, k, v, /*dropout_p=*/0.0, /*is_causal=*/true);
  kept->out_version = kept->out._version();
  return kept;
}

// Attention's autograd node around kept values: forward hands out the kept output, backward is
// the kernel's own backward.
struct KeptAttentionFunction : torch::autograd::Function<KeptAttentionFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const std::shared_ptr<const KeptAttention>& kept) {
    ctx->save_for_backward({q, k, v, kept->out, kept->logsumexp, kept->philox_seed, kept->philox_offset,
                            kept->cum_seq_q, kept->cum_seq_k});
    ctx->saved_data["backend"] = static_cast<int64_t>(kept->backend);
    ctx->saved_data["max_q"] = kept->max_q;
    ctx->saved_data["max_k"] = kept->max_k;
    return kept->out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    const at::Tensor &q = s[0], &k = s[1], &v = s[2], &out = s[3], &lse = s[4];
    const auto backend = static_cast<at::SDPBackend>(ctx->saved_data["backend"].toInt());
    const int64_t max_q = ctx->saved_data["max_q"].toInt(), max_k = ctx->saved_data["max_k"].toInt();
    std::tuple<at::Tensor, at::Tensor, at::Tensor> d;
    if (backend == at::SDPBackend::cudnn_attention)
      d = at::_scaled_dot_product_cudnn_attention_backward(grads[0], q, k, v, out, lse, s[5], s[6],
                                                           /*attn_bias=*/at::Tensor(), s[7], s[8], max_q, max_k,
                                                           /*dropout_p=*/0.0, /*is_causal=*/true);
    else if (q.is_cuda())
      d = at::_scaled_dot_product_flash_attention_backward(grads[0], q, k, v, out, lse, s[7], s[8], max_q, max_k,
                                                           /*dropout_p=*/0.0, /*is_causal=*/true, s[5], s[6]);
    else
      d = at::_scaled_dot_product_flash_attention_for_cpu_backward(grads[0], q, k, v, out, lse, /*dropout_p=*/0.0,
                                                                   /*is_causal=*/true);
    return {std::get<0>(d), std::get<1>(d), std::get<2>(d), at::Tensor()};
  }
};

}  // namespace

at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double dropout_p,
                            bool enable_gqa, const void* owner) {
  static const bool enabled = switch_from_env("ZS_KEEP_ATTENTION");
  const ActiveRecomputeStore active = active_recompute_store();
  if (enabled && active.store && active.taking) {
    if (auto kept = active.store->take<KeptAttention>(owner)) {
      TORCH_CHECK(kept->out.size(0) == q.size(0) && kept->out.size(1) == q.size(1) && kept->out.size(2) == q.size(2),
                  "causal_attention: the recompute's query ", q.sizes(), " does not match the attention its forward kept ",
                  kept->out.sizes());
      TORCH_CHECK(kept->out._version() == kept->out_version,
                  "causal_attention: the attention output its checkpointed forward kept was changed in place "
                  "afterwards; change a copy, or run with ZS_KEEP_ATTENTION=0");
      return KeptAttentionFunction::apply(q, k, v, kept);
    }
  } else if (enabled && active.store) {
    if (auto backend = keepable_backend(q, k, v, dropout_p, enable_gqa)) {
      auto kept = forward_kept(*backend, q, k, v);
      active.store->keep(owner, kept);
      return kept->out;
    }
  }
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, dropout_p, /*is_causal=*/true,
                                          /*scale=*/std::nullopt, enable_gqa);
}

}  // namespace zs
