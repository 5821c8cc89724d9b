// Adam/AdamW for 16-bit parameters with fp32 masters in one pass over memory: the 16-bit (or fp32)
// gradient, the master and both moments are read once; the master, the moments and the 16-bit
// parameter are written once. It replaces a gradient conversion to fp32, LibTorch's fused Adam
// kernel and a copy of the masters into the parameters.
//
// The arithmetic is LibTorch 2.11's CUDA fused Adam/AdamW (_fused_adam_, _fused_adamw_) operation by
// operation, written with explicit round-to-nearest intrinsics so that no contraction is left to the
// compiler: where LibTorch's compiled kernel (sm_90 SASS of libtorch_cuda.so 2.11.0+cu130) fuses a
// multiply and an add into one FMA, so do we, and nowhere else. Per element, in fp32:
//   g  = grad / divisor                                    (correctly rounded division)
//   Adam:  g = fma(p, wd, g)            AdamW: p = fma(p, -(lr*wd), p)     (only when wd != 0)
//   m  = fma(m, b1, fma(g, -b1, g))     v = fma(v, b2, fma(g*g, -b2, g*g))
//   p  = p - (m * step_size) / (sqrt(v) / sqrt(1 - b2^t) + eps),  step_size = lr / (1 - b1^t)
// with b^t = powf(b, t) from the fp32 step count on the device, as LibTorch computes it. The new
// parameter is the new master rounded to nearest (even), as a copy_ into bf16/fp16 rounds it.
#include "zs/optim/fused_adam_kernels.hpp"

#include "zs/kernels/multiprocessors.hpp"
#include "zs/kernels/slot_chunks.cuh"
#include "zs/kernels/vec8.cuh"

#include <algorithm>
#include <type_traits>

namespace zs::kernels {
namespace {

constexpr int kLanes = kVec8;  // elements per thread and iteration: one 16-byte vector of 16-bit values
constexpr int kThreads = 256;
// Resident blocks an SM. Two keep ~57 KB of loads in flight an SM, enough for the memory's speed,
// and run closest to a copy's bandwidth: a 1.5G-element step (bf16 parameters) on an H200 took
// 11.5 ms with 2 (3.9 TB/s; a plain copy of as many bytes 4.3), 12.4 with 4, 11.8 with 3, 13.8 with 1.
constexpr int kBlocksPerSm = 2;

// What every element of the step shares.
struct StepConstants {
  float beta1, beta2, eps, weight_decay;
  float lr_weight_decay;        // AdamW's lr * wd, one rounding (LibTorch computes it once too)
  float step_size;              // lr / (1 - beta1^t)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  float divisor;
  bool divide, decay;
};

__device__ __forceinline__ StepConstants step_constants(const AdamHyper& h, const float* step, const float* divisor) {
  StepConstants c;
  const float t = *step;
  c.beta1 = h.beta1;
  c.beta2 = h.beta2;
  c.eps = h.eps;
  c.weight_decay = h.weight_decay;
  c.lr_weight_decay = __fmul_rn(h.lr, h.weight_decay);
  c.step_size = __fdiv_rn(h.lr, __fsub_rn(1.f, powf(h.beta1, t)));
  c.bias_correction2_sqrt = __fsqrt_rn(__fsub_rn(1.f, powf(h.beta2, t)));
  c.divide = divisor != nullptr;
  c.divisor = c.divide ? *divisor : 1.f;
  c.decay = h.weight_decay != 0.f;
  return c;
}

template <bool kDecoupled>
__device__ __forceinline__ void adam_update(float& p, float& m, float& v, float g, const StepConstants& c) {
  if (c.divide) g = __fdiv_rn(g, c.divisor);
  if (c.decay) {
    if constexpr (kDecoupled) p = __fmaf_rn(p, -c.lr_weight_decay, p);
    else g = __fmaf_rn(p, c.weight_decay, g);
  }
  const float g2 = __fmul_rn(g, g);
  m = __fmaf_rn(m, c.beta1, __fmaf_rn(g, -c.beta1, g));
  v = __fmaf_rn(v, c.beta2, __fmaf_rn(g2, -c.beta2, g2));
  const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), c.bias_correction2_sqrt), c.eps);
  p = __fsub_rn(p, __fdiv_rn(__fmul_rn(m, c.step_size), denom));
}

// Element i of a slot, one at a time.
template <typename G, typename P, bool kDecoupled>
__device__ __forceinline__ void step_element(float* __restrict__ master, float* __restrict__ exp_avg,
                                             float* __restrict__ exp_avg_sq, const G* __restrict__ grad,
                                             P* __restrict__ param, int64_t i, const StepConstants& c) {
  float p = master[i], m = exp_avg[i], v = exp_avg_sq[i];
  adam_update<kDecoupled>(p, m, v, widen(grad[i]), c);
  master[i] = p;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  if (param) param[i] = narrow<P>(p);
}

// Elements [i, i + kLanes) of a slot as 16-byte vectors (every array aligned there).
template <typename G, typename P, bool kDecoupled>
__device__ __forceinline__ void step_vector(float* __restrict__ master, float* __restrict__ exp_avg,
                                            float* __restrict__ exp_avg_sq, const G* __restrict__ grad,
                                            P* __restrict__ param, int64_t i, const StepConstants& c) {
  float p[kLanes], m[kLanes], v[kLanes], g[kLanes];
  load8(master + i, p);
  load8(exp_avg + i, m);
  load8(exp_avg_sq + i, v);
  load8(grad + i, g);
#pragma unroll
  for (int j = 0; j < kLanes; ++j) adam_update<kDecoupled>(p[j], m[j], v[j], g[j], c);
  store8(master + i, p);
  store8(exp_avg + i, m);
  store8(exp_avg_sq + i, v);
  if (param) store8(param + i, p);
}

// Elements [0, head) and [head + groups * kLanes, n) one at a time; the groups of kLanes between
// them, where every pointer is 16-byte aligned, as vectors. Grid-stride loops throughout.
template <typename G, typename P, bool kDecoupled>
__global__ void __launch_bounds__(kThreads)
    fused_adam_kernel(float* __restrict__ master, float* __restrict__ exp_avg, float* __restrict__ exp_avg_sq,
                      const G* __restrict__ grad, P* __restrict__ param, int64_t n, int64_t head, AdamHyper hyper,
                      const float* __restrict__ step, const float* __restrict__ divisor) {
  const StepConstants c = step_constants(hyper, step, divisor);
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t groups = (n - head) / kLanes;
  const int64_t tail = head + groups * kLanes;

  for (int64_t i = first; i < head; i += stride)
    step_element<G, P, kDecoupled>(master, exp_avg, exp_avg_sq, grad, param, i, c);
  for (int64_t i = tail + first; i < n; i += stride)
    step_element<G, P, kDecoupled>(master, exp_avg, exp_avg_sq, grad, param, i, c);
  for (int64_t k = first; k < groups; k += stride)
    step_vector<G, P, kDecoupled>(master, exp_avg, exp_avg_sq, grad, param, head + k * kLanes, c);
}

// Several slots in one launch (launch_fused_adam_batch), walked in chunks (slot_chunks.cuh). Per
// element the arithmetic of fused_adam_kernel, so the same bits.

struct AdamBatch {
  AdamSlot slot[kAdamBatchSlots];
  float weight_decay[kAdamBatchSlots];
  int64_t head[kAdamBatchSlots];
  int64_t chunk_end[kAdamBatchSlots];  // chunks of slots [0, s] together
  int count;
};

template <typename G, typename P, bool kDecoupled>
__global__ void __launch_bounds__(kThreads)
    fused_adam_batch_kernel(const AdamBatch batch, AdamHyper hyper, const float* __restrict__ step,
                            const float* __restrict__ divisor) {
  const StepConstants shared = step_constants(hyper, step, divisor);
  const int64_t chunks = batch.chunk_end[batch.count - 1];
  for (int64_t chunk = blockIdx.x; chunk < chunks; chunk += gridDim.x) {
    int64_t local = 0;
    const int s = slot_of_chunk(batch.chunk_end, chunk, local);
    const AdamSlot& slot = batch.slot[s];
    StepConstants c = shared;
    c.weight_decay = batch.weight_decay[s];
    c.lr_weight_decay = __fmul_rn(hyper.lr, c.weight_decay);
    c.decay = c.weight_decay != 0.f;
    float* __restrict__ master = slot.master;
    float* __restrict__ exp_avg = slot.exp_avg;
    float* __restrict__ exp_avg_sq = slot.exp_avg_sq;
    const G* __restrict__ grad = static_cast<const G*>(slot.grad);
    P* __restrict__ param = static_cast<P*>(slot.param);
    const int64_t head = batch.head[s];
    const int64_t groups = (slot.n - head) / kLanes;

    if (local == 0) {
      const int64_t i = scalar_end_element(head, groups, slot.n);
      if (i >= 0) step_element<G, P, kDecoupled>(master, exp_avg, exp_avg_sq, grad, param, i, c);
    }
    const int64_t end = (local + 1) * kSlotChunkGroups < groups ? (local + 1) * kSlotChunkGroups : groups;
    for (int64_t k = local * kSlotChunkGroups + threadIdx.x; k < end; k += kThreads)
      step_vector<G, P, kDecoupled>(master, exp_avg, exp_avg_sq, grad, param, head + k * kLanes, c);
  }
}

bool aligned_at(const void* p, int64_t byte_offset) {
  return p == nullptr || (reinterpret_cast<uintptr_t>(p) + uint64_t(byte_offset)) % 16 == 0;
}

// The first element index at which all five arrays are 16-byte aligned, or n where there is none
// within a vector's reach (offsets that disagree): then every element goes one at a time.
int64_t common_head(const AdamSlot& s, int64_t grad_size, int64_t param_size) {
  for (int64_t h = 0; h < kLanes && h < s.n; ++h) {
    if (aligned_at(s.master, 4 * h) && aligned_at(s.exp_avg, 4 * h) && aligned_at(s.exp_avg_sq, 4 * h) &&
        aligned_at(s.grad, grad_size * h) && aligned_at(s.param, param_size * h))
      return h;
  }
  return s.n;
}

template <typename G, typename P>
void launch(const AdamSlot& s, const AdamHyper& hyper, const float* step, const float* divisor, cudaStream_t stream) {
  if (s.n == 0) return;
  const int64_t head = common_head(s, int64_t(sizeof(G)), int64_t(sizeof(P)));
  // Threads with work: one per vector group, at least kLanes for the scalar ends.
  const int64_t work = head == s.n ? s.n : std::max<int64_t>((s.n - head) / kLanes, kLanes);
  const int64_t blocks = std::min<int64_t>((work + kThreads - 1) / kThreads, int64_t(multiprocessors()) * kBlocksPerSm);
  auto* grad = static_cast<const G*>(s.grad);
  auto* param = static_cast<P*>(s.param);
  if (hyper.decoupled)
    fused_adam_kernel<G, P, true><<<unsigned(blocks), kThreads, 0, stream>>>(
        s.master, s.exp_avg, s.exp_avg_sq, grad, param, s.n, head, hyper, step, divisor);
  else
    fused_adam_kernel<G, P, false><<<unsigned(blocks), kThreads, 0, stream>>>(
        s.master, s.exp_avg, s.exp_avg_sq, grad, param, s.n, head, hyper, step, divisor);
}

// Slots of one kind in batches of up to kAdamBatchSlots; a slot whose arrays never line up for
// vectors (rare: offsets that disagree) takes the one-slot kernel.
template <typename G, typename P>
void launch_batches(const AdamSlot* slots, const float* weight_decays, int count, const AdamHyper& hyper,
                    const float* step, const float* divisor, cudaStream_t stream) {
  AdamBatch batch{};
  int64_t chunks = 0;
  const auto flush = [&] {
    if (batch.count == 0) return;
    const unsigned blocks = unsigned(std::min<int64_t>(chunks, int64_t(multiprocessors()) * kBlocksPerSm));
    if (hyper.decoupled)
      fused_adam_batch_kernel<G, P, true><<<blocks, kThreads, 0, stream>>>(batch, hyper, step, divisor);
    else
      fused_adam_batch_kernel<G, P, false><<<blocks, kThreads, 0, stream>>>(batch, hyper, step, divisor);
    batch.count = 0;
    chunks = 0;
  };
  for (int i = 0; i < count; ++i) {
    const AdamSlot& slot = slots[i];
    if (slot.n == 0) continue;
    const int64_t head = common_head(slot, int64_t(sizeof(G)), int64_t(sizeof(P)));
    if (head == slot.n) {
      AdamHyper own = hyper;
      own.weight_decay = weight_decays[i];
      launch<G, P>(slot, own, step, divisor, stream);
      continue;
    }
    const int64_t groups = (slot.n - head) / kLanes;
    chunks += slot_chunks(groups);
    batch.slot[batch.count] = slot;
    batch.weight_decay[batch.count] = weight_decays[i];
    batch.head[batch.count] = head;
    batch.chunk_end[batch.count] = chunks;
    if (++batch.count == kAdamBatchSlots) flush();
  }
  flush();
}

template <typename P>
void launch_batches_param(const AdamSlot* slots, const float* weight_decays, int count, FloatKind grad_kind,
                          const AdamHyper& hyper, const float* step, const float* divisor, cudaStream_t stream) {
  switch (grad_kind) {
    case FloatKind::f32: return launch_batches<float, P>(slots, weight_decays, count, hyper, step, divisor, stream);
    case FloatKind::bf16:
      return launch_batches<__nv_bfloat16, P>(slots, weight_decays, count, hyper, step, divisor, stream);
    case FloatKind::f16: return launch_batches<__half, P>(slots, weight_decays, count, hyper, step, divisor, stream);
  }
}

template <typename P>
void launch_param(const AdamSlot& s, FloatKind grad_kind, const AdamHyper& hyper, const float* step,
                  const float* divisor, cudaStream_t stream) {
  switch (grad_kind) {
    case FloatKind::f32: return launch<float, P>(s, hyper, step, divisor, stream);
    case FloatKind::bf16: return launch<__nv_bfloat16, P>(s, hyper, step, divisor, stream);
    case FloatKind::f16: return launch<__half, P>(s, hyper, step, divisor, stream);
  }
}

}  // namespace

void launch_fused_adam(const AdamSlot& slot, FloatKind grad_kind, FloatKind param_kind, const AdamHyper& hyper,
                       const float* step, const float* divisor, cudaStream_t stream) {
  switch (param_kind) {
    case FloatKind::bf16: return launch_param<__nv_bfloat16>(slot, grad_kind, hyper, step, divisor, stream);
    case FloatKind::f16: return launch_param<__half>(slot, grad_kind, hyper, step, divisor, stream);
    case FloatKind::f32: break;  // fp32 parameters are their own masters: the host side never asks
  }
}

void launch_fused_adam_batch(const AdamSlot* slots, const float* weight_decays, int count, FloatKind grad_kind,
                             FloatKind param_kind, const AdamHyper& hyper, const float* step, const float* divisor,
                             cudaStream_t stream) {
  switch (param_kind) {
    case FloatKind::bf16:
      return launch_batches_param<__nv_bfloat16>(slots, weight_decays, count, grad_kind, hyper, step, divisor, stream);
    case FloatKind::f16:
      return launch_batches_param<__half>(slots, weight_decays, count, grad_kind, hyper, step, divisor, stream);
    case FloatKind::f32: break;
  }
}

}  // namespace zs::kernels
