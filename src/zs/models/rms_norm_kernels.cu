// RMSNorm with one block of 256 threads per row (the rows of a Llama are 4,096 features and more):
// each thread keeps its V vectors of 8 features in registers, so the row is read from memory once
// each way, and the row's sums are block sums (warp shuffles, then the 8 warps' partials read by
// every thread in the same order: the same bits everywhere). Blocks stride over the rows. Backward
// also sums dy * shat per column over each block's rows in registers (the weight's gradient), and a
// second small kernel adds the blocks' partial rows in a fixed order.
#include "zs/models/rms_norm_kernels.hpp"

#include <algorithm>

#include "zs/kernels/vec8.cuh"
#include "zs/kernels/warp_sum.cuh"

namespace zs::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxV = int(kRmsNormMaxCols / (kThreads * kVec8));

__device__ __forceinline__ float block_sum(float v, float* partials) {
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0) partials[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0.f;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) total += partials[w];
  __syncthreads();  // the partials are reused by the next row
  return total;
}

// This thread's vectors of a row of `vectors` (threadIdx.x, + kThreads, ...: V of them at most);
// those past the row's end are left as they were.
template <typename T, int V>
__device__ __forceinline__ void load_mine(const T* row, int vectors, float (&v)[V][kVec8]) {
#pragma unroll
  for (int k = 0; k < V; ++k) {
    const int j = threadIdx.x + k * kThreads;
    if (j < vectors) load8(row + j * kVec8, v[k]);
  }
}

// Blocks for `rows`: a few per SM, each taking rows blockIdx.x, + gridDim.x, ...
int blocks_for(int64_t rows, int sm_count) { return int(std::min<int64_t>(rows, int64_t(sm_count) * 4)); }

template <typename T, int V>
__global__ void __launch_bounds__(kThreads)
    rms_norm_forward(const T* __restrict__ x, const T* __restrict__ addend, const T* __restrict__ weight,
                     int64_t rows, int cols, float eps, T* __restrict__ y, T* __restrict__ sum,
                     float* __restrict__ rstd) {
  __shared__ float partials[kWarps];
  const int vectors = cols / kVec8;
  float w[V][kVec8];
  load_mine(weight, vectors, w);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t at = row * cols;
    float v[V][kVec8];
    load_mine(x + at, vectors, v);
    float squares = 0.f;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int j = threadIdx.x + k * kThreads;
      if (j >= vectors) continue;
      if (addend) {
        float a[kVec8];
        load8(addend + at + j * kVec8, a);
#pragma unroll
        for (int i = 0; i < kVec8; ++i) v[k][i] = widen(narrow<T>(v[k][i] + a[i]));
        store8(sum + at + j * kVec8, v[k]);
      }
#pragma unroll
      for (int i = 0; i < kVec8; ++i) squares += v[k][i] * v[k][i];
    }
    const float rs = rsqrtf(block_sum(squares, partials) / float(cols) + eps);
    if (threadIdx.x == 0) rstd[row] = rs;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int j = threadIdx.x + k * kThreads;
      if (j >= vectors) continue;
      float out[kVec8];
#pragma unroll
      for (int i = 0; i < kVec8; ++i) out[i] = v[k][i] * rs * w[k][i];
      store8(y + at + j * kVec8, out);
    }
  }
}

// dx for each row; with `partial`, this block's column sums of dy * shat over its rows
// (partial: gridDim.x rows of cols floats).
template <typename T, int V>
__global__ void __launch_bounds__(kThreads)
    rms_norm_backward(const T* __restrict__ dy, const T* __restrict__ s, const float* __restrict__ rstd,
                      const T* __restrict__ weight, const T* __restrict__ residual, int64_t rows, int cols,
                      T* __restrict__ dx, float* __restrict__ partial) {
  __shared__ float partials[kWarps];
  const int vectors = cols / kVec8;
  float w[V][kVec8], acc[V][kVec8] = {};
  load_mine(weight, vectors, w);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t at = row * cols;
    const float rs = rstd[row];
    float g[V][kVec8], shat[V][kVec8];
    load_mine(dy + at, vectors, g);
    load_mine(s + at, vectors, shat);
    float b = 0.f;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      if (threadIdx.x + k * kThreads >= vectors) continue;
#pragma unroll
      for (int i = 0; i < kVec8; ++i) {
        shat[k][i] *= rs;
        b += g[k][i] * w[k][i] * shat[k][i];
      }
    }
    b = block_sum(b, partials) / float(cols);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int j = threadIdx.x + k * kThreads;
      if (j >= vectors) continue;
      float res[kVec8] = {}, out[kVec8];
      if (residual) load8(residual + at + j * kVec8, res);
#pragma unroll
      for (int i = 0; i < kVec8; ++i) {
        out[i] = rs * (g[k][i] * w[k][i] - shat[k][i] * b) + res[i];
        acc[k][i] += g[k][i] * shat[k][i];
      }
      store8(dx + at + j * kVec8, out);
    }
  }
  if (!partial) return;
#pragma unroll
  for (int k = 0; k < V; ++k) {
    const int j = threadIdx.x + k * kThreads;
    if (j < vectors)
#pragma unroll
      for (int i = 0; i < kVec8; ++i) partial[int64_t(blockIdx.x) * cols + j * kVec8 + i] = acc[k][i];
  }
}

// out[c] = the sum over the blocks' partial rows, rounded to W. A block takes 32 columns: warp w adds
// the partial rows w, w + 8, ... (one coalesced read of 32 columns each), then thread c adds the 8
// warps' sums in warp order: a fixed order, so the same bits every run.
template <typename W>
__global__ void __launch_bounds__(kThreads)
    sum_partials(const float* __restrict__ partial, int blocks, int cols, W* __restrict__ out) {
  __shared__ float sums[kWarps][32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int c = blockIdx.x * 32 + lane;
  float total = 0.f;
  if (c < cols) {
#pragma unroll 4
    for (int b = warp; b < blocks; b += kWarps) total += partial[int64_t(b) * cols + c];
  }
  sums[warp][lane] = total;
  __syncthreads();
  if (warp != 0 || c >= cols) return;
  float all = 0.f;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) all += sums[w][lane];
  out[c] = narrow<W>(all);
}

template <typename T>
void forward_for(const void* x, const void* addend, const void* weight, int64_t rows, int64_t cols, float eps, void* y,
                 void* sum, float* rstd, int sm_count, cudaStream_t stream) {
  auto launch = [&](auto kernel) {
    kernel<<<blocks_for(rows, sm_count), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<const T*>(addend), static_cast<const T*>(weight), rows, int(cols), eps,
        static_cast<T*>(y), static_cast<T*>(sum), rstd);
  };
  switch ((cols / kVec8 + kThreads - 1) / kThreads) {
    case 1: launch(rms_norm_forward<T, 1>); break;
    case 2: launch(rms_norm_forward<T, 2>); break;
    case 3: launch(rms_norm_forward<T, 3>); break;
    default: launch(rms_norm_forward<T, kMaxV>); break;  // cols <= kRmsNormMaxCols
  }
}

template <typename T>
void backward_for(const void* dy, const void* s, const float* rstd, const void* weight, const void* residual,
                  int64_t rows, int64_t cols, void* dx, float* partial, int sm_count, cudaStream_t stream) {
  auto launch = [&](auto kernel) {
    kernel<<<blocks_for(rows, sm_count), kThreads, 0, stream>>>(
        static_cast<const T*>(dy), static_cast<const T*>(s), rstd, static_cast<const T*>(weight),
        static_cast<const T*>(residual), rows, int(cols), static_cast<T*>(dx), partial);
  };
  switch ((cols / kVec8 + kThreads - 1) / kThreads) {
    case 1: launch(rms_norm_backward<T, 1>); break;
    case 2: launch(rms_norm_backward<T, 2>); break;
    case 3: launch(rms_norm_backward<T, 3>); break;
    default: launch(rms_norm_backward<T, kMaxV>); break;
  }
}

template <typename W>
void sum_partials_for(const float* partial, int blocks, int64_t cols, void* out, cudaStream_t stream) {
  sum_partials<W><<<unsigned((cols + 31) / 32), kThreads, 0, stream>>>(partial, blocks, int(cols), static_cast<W*>(out));
}

}  // namespace

void launch_rms_norm_forward(const void* x, const void* addend, const void* weight, int64_t rows, int64_t cols,
                             float eps, FloatKind kind, void* y, void* sum, float* rstd, int sm_count,
                             cudaStream_t stream) {
  if (rows == 0) return;
  switch (kind) {
    case FloatKind::f32: forward_for<float>(x, addend, weight, rows, cols, eps, y, sum, rstd, sm_count, stream); break;
    case FloatKind::bf16:
      forward_for<__nv_bfloat16>(x, addend, weight, rows, cols, eps, y, sum, rstd, sm_count, stream);
      break;
    case FloatKind::f16: forward_for<__half>(x, addend, weight, rows, cols, eps, y, sum, rstd, sm_count, stream); break;
  }
}

int64_t rms_norm_backward_workspace(int64_t rows, int64_t cols, int sm_count) {
  return int64_t(std::max(1, blocks_for(rows, sm_count))) * cols;
}

void launch_rms_norm_backward(const void* dy, const void* s, const float* rstd, const void* weight,
                              const void* residual, int64_t rows, int64_t cols, FloatKind kind, void* dx,
                              void* dweight, FloatKind weight_grad_kind, float* workspace, int sm_count,
                              cudaStream_t stream) {
  if (rows == 0) return;
  float* partial = dweight ? workspace : nullptr;
  switch (kind) {
    case FloatKind::f32: backward_for<float>(dy, s, rstd, weight, residual, rows, cols, dx, partial, sm_count, stream); break;
    case FloatKind::bf16:
      backward_for<__nv_bfloat16>(dy, s, rstd, weight, residual, rows, cols, dx, partial, sm_count, stream);
      break;
    case FloatKind::f16: backward_for<__half>(dy, s, rstd, weight, residual, rows, cols, dx, partial, sm_count, stream); break;
  }
  if (!dweight) return;
  const int blocks = blocks_for(rows, sm_count);
  switch (weight_grad_kind) {
    case FloatKind::f32: sum_partials_for<float>(partial, blocks, cols, dweight, stream); break;
    case FloatKind::bf16: sum_partials_for<__nv_bfloat16>(partial, blocks, cols, dweight, stream); break;
    case FloatKind::f16: sum_partials_for<__half>(partial, blocks, cols, dweight, stream); break;
  }
}

}  // namespace zs::kernels
