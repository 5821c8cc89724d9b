// LayerNorm with one warp per row. Forward: the row stays in registers (8 adjacent features per
// 16-byte load, up to 8 loads per lane), the mean and the variance about it are two warp sums over
// those registers, and the output is written in the same pass. ATen's kernel made 27 us per call at
// nanoGPT's shakespeare_char shape (16,384 rows of 384 bf16), about a third of the memory's speed.
// Backward: the input's gradient alone, each warp keeping two rows' loads in flight where the
// registers allow (the weight's and bias's gradients are column_sums_kernels.cu's).
#include "zs/models/layer_norm_kernels.hpp"

#include "zs/kernels/vec8.cuh"
#include "zs/kernels/warp_sum.cuh"

namespace zs::kernels {
namespace {

constexpr int kWarpsPerBlock = 8;

// kChunks: 16-byte vectors per lane (a row of cols features has cols / 8 of them, dealt round-robin).
// With an addend, the row normalised is x + addend, rounded to T as a separate add would round it,
// and written to `sum` (the residual stream's next value).
template <typename T, int kChunks>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    layer_norm_forward(const T* __restrict__ x, const T* __restrict__ addend, const T* __restrict__ weight,
                       const T* __restrict__ bias, int64_t rows, int cols, float eps, T* __restrict__ y,
                       T* __restrict__ sum_out, float* __restrict__ mean, float* __restrict__ rstd) {
  const int lane = threadIdx.x % 32;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;
  const int vectors = cols / kVec8;
  const T* xr = x + row * cols;
  float v[kChunks][kVec8];
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < kChunks; ++k) {
    const int j = lane + 32 * k;
    if (j < vectors) {
      load8(xr + j * kVec8, v[k]);
      if (addend) {
        float a[kVec8];
        load8(addend + row * cols + j * kVec8, a);
#pragma unroll
        for (int i = 0; i < kVec8; ++i) v[k][i] = widen(narrow<T>(v[k][i] + a[i]));
        store8(sum_out + row * cols + j * kVec8, v[k]);
      }
#pragma unroll
      for (int i = 0; i < kVec8; ++i) sum += v[k][i];
    }
  }
  const float m = warp_sum(sum) / float(cols);
  float squares = 0.f;
#pragma unroll
  for (int k = 0; k < kChunks; ++k)
    if (lane + 32 * k < vectors) {
#pragma unroll
      for (int i = 0; i < kVec8; ++i) {
        const float d = v[k][i] - m;
        squares += d * d;
      }
    }
  const float rs = rsqrtf(warp_sum(squares) / float(cols) + eps);
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = rs;
  }
#pragma unroll
  for (int k = 0; k < kChunks; ++k) {
    const int j = lane + 32 * k;
    if (j < vectors) {
      float w[kVec8], b[kVec8] = {}, out[kVec8];
      load8(weight + j * kVec8, w);
      if (bias) load8(bias + j * kVec8, b);
#pragma unroll
      for (int i = 0; i < kVec8; ++i) out[i] = (v[k][i] - m) * rs * w[i] + b[i];
      store8(y + row * cols + j * kVec8, out);
    }
  }
}

template <typename T>
void launch_for(const void* x, const void* addend, const void* weight, const void* bias, int64_t rows, int64_t cols,
                float eps, void* y, void* sum, float* mean, float* rstd, cudaStream_t stream) {
  const dim3 grid(unsigned((rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
  const int chunks = int((cols / kVec8 + 31) / 32);
  auto args = [&](auto kernel) {
    kernel<<<grid, kWarpsPerBlock * 32, 0, stream>>>(static_cast<const T*>(x), static_cast<const T*>(addend),
                                                     static_cast<const T*>(weight), static_cast<const T*>(bias), rows,
                                                     int(cols), eps, static_cast<T*>(y), static_cast<T*>(sum), mean,
                                                     rstd);
  };
  switch (chunks) {
    case 1: args(layer_norm_forward<T, 1>); break;
    case 2: args(layer_norm_forward<T, 2>); break;
    case 3: args(layer_norm_forward<T, 3>); break;
    case 4: args(layer_norm_forward<T, 4>); break;
    case 5: args(layer_norm_forward<T, 5>); break;
    case 6: args(layer_norm_forward<T, 6>); break;
    case 7: args(layer_norm_forward<T, 7>); break;
    default: args(layer_norm_forward<T, 8>); break;  // cols <= kLayerNormMaxCols
  }
}

// The input's gradient of rows of cols features, one warp per row, kRows rows a warp at once so
// that enough loads are in flight to keep the memory busy:
//   dx = rstd * (dy * w - mean(dy * w) - xhat * mean(dy * w * xhat)),   xhat = (x - mean) * rstd.
// The weight's and bias's gradients are column sums over the rows, a pass of their own
// (column_sums_kernels.hpp): held here, their accumulators took the registers that rows in flight
// need. Each lane takes kChunks vectors of kVec features, dealt round-robin (kVec 4 where 8 would
// leave lanes idle, as 384 features do). A residual gradient, when given, is added before the one
// rounding: the gradient of a stream value that also feeds the norm.
template <typename T, int kVec, int kChunks, int kRows>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    layer_norm_backward_dx(const T* __restrict__ dy, const T* __restrict__ x, const float* __restrict__ mean,
                           const float* __restrict__ rstd, const T* __restrict__ weight,
                           const T* __restrict__ residual, int64_t rows, int cols, T* __restrict__ dx) {
  const int lane = threadIdx.x % 32;
  const int vectors = cols / kVec;
  const int64_t first = (int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32) * kRows;
  float g[kRows][kChunks][kVec] = {}, xhat[kRows][kChunks][kVec] = {}, m[kRows], rs[kRows], a[kRows], b[kRows];
  // Every row's loads first, then the arithmetic.
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t row = first + r;
    m[r] = row < rows ? mean[row] : 0.f;
    rs[r] = row < rows ? rstd[row] : 0.f;
    a[r] = b[r] = 0.f;
    if (row >= rows) continue;
#pragma unroll
    for (int k = 0; k < kChunks; ++k) {
      const int j = lane + 32 * k;
      if (j < vectors) {
        load_n<kVec>(dy + row * cols + j * kVec, g[r][k]);
        load_n<kVec>(x + row * cols + j * kVec, xhat[r][k]);
      }
    }
  }
#pragma unroll
  for (int k = 0; k < kChunks; ++k) {
    const int j = lane + 32 * k;
    float w[kVec] = {};
    if (j < vectors) load_n<kVec>(weight + j * kVec, w);
#pragma unroll
    for (int r = 0; r < kRows; ++r)
#pragma unroll
      for (int i = 0; i < kVec; ++i) {  // rows past the end and lanes past the row hold g = 0
        xhat[r][k][i] = (xhat[r][k][i] - m[r]) * rs[r];
        const float gw = g[r][k][i] * w[i];
        a[r] += gw;
        b[r] += gw * xhat[r][k][i];
      }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    a[r] = warp_sum(a[r]) / float(cols);
    b[r] = warp_sum(b[r]) / float(cols);
  }
#pragma unroll
  for (int k = 0; k < kChunks; ++k) {
    const int j = lane + 32 * k;
    if (j >= vectors) continue;
    float w[kVec];
    load_n<kVec>(weight + j * kVec, w);  // again, from L1: registers go to the rows
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int64_t row = first + r;
      if (row >= rows) continue;
      float out[kVec], res[kVec] = {};
      if (residual) load_n<kVec>(residual + row * cols + j * kVec, res);
#pragma unroll
      for (int i = 0; i < kVec; ++i) out[i] = rs[r] * (g[r][k][i] * w[i] - a[r] - xhat[r][k][i] * b[r]) + res[i];
      store_n<kVec>(dx + row * cols + j * kVec, out);
    }
  }
}

// Rows of more than 768 features: a first pass over dy and x for the two row means and a second
// that reads them again (from L1, where the first left them) to write dx. Little stays in
// registers, so many warps per SM keep the memory busy.
template <typename T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    layer_norm_backward_dx_wide(const T* __restrict__ dy, const T* __restrict__ x, const float* __restrict__ mean,
                                const float* __restrict__ rstd, const T* __restrict__ weight,
                                const T* __restrict__ residual, int64_t rows, int cols, T* __restrict__ dx) {
  const int lane = threadIdx.x % 32;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;
  const int vectors = cols / kVec8;
  const T *dyr = dy + row * cols, *xr = x + row * cols;
  const float m = mean[row], rs = rstd[row];
  float a = 0.f, b = 0.f;
#pragma unroll 2
  for (int j = lane; j < vectors; j += 32) {
    float g[kVec8], v[kVec8], w[kVec8];
    load8(dyr + j * kVec8, g);
    load8(xr + j * kVec8, v);
    load8(weight + j * kVec8, w);
#pragma unroll
    for (int i = 0; i < kVec8; ++i) {
      const float gw = g[i] * w[i];
      a += gw;
      b += gw * ((v[i] - m) * rs);
    }
  }
  a = warp_sum(a) / float(cols);
  b = warp_sum(b) / float(cols);
#pragma unroll 2
  for (int j = lane; j < vectors; j += 32) {
    float g[kVec8], v[kVec8], w[kVec8], res[kVec8] = {}, out[kVec8];
    load8(dyr + j * kVec8, g);
    load8(xr + j * kVec8, v);
    load8(weight + j * kVec8, w);
    if (residual) load8(residual + row * cols + j * kVec8, res);
#pragma unroll
    for (int i = 0; i < kVec8; ++i) out[i] = rs * (g[i] * w[i] - a - (v[i] - m) * rs * b) + res[i];
    store8(dx + row * cols + j * kVec8, out);
  }
}

template <typename T>
void launch_backward_for(const void* dy, const void* x, const float* mean, const float* rstd, const void* weight,
                         const void* residual, int64_t rows, int64_t cols, void* dx, cudaStream_t stream) {
  auto args = [&](auto kernel, int rows_per_warp) {
    const int64_t rows_per_block = int64_t(kWarpsPerBlock) * rows_per_warp;
    kernel<<<unsigned((rows + rows_per_block - 1) / rows_per_block), kWarpsPerBlock * 32, 0, stream>>>(
        static_cast<const T*>(dy), static_cast<const T*>(x), mean, rstd, static_cast<const T*>(weight),
        static_cast<const T*>(residual), rows, int(cols), static_cast<T*>(dx));
  };
  // Up to 768 features the rows stay in registers: vectors of 8 where they share evenly among the
  // lanes (multiples of 256), else of 4; two rows a warp while a lane holds at most 16 features of
  // each. Wider rows are read twice.
  if (cols > 768) {
    args(layer_norm_backward_dx_wide<T>, 1);
  } else if (cols % 256 == 0) {
    switch (cols / 256) {
      case 1: args(layer_norm_backward_dx<T, 8, 1, 2>, 2); break;
      case 2: args(layer_norm_backward_dx<T, 8, 2, 2>, 2); break;
      default: args(layer_norm_backward_dx<T, 8, 3, 1>, 1); break;
    }
  } else {
    switch (int((cols / 4 + 31) / 32)) {
      case 1: args(layer_norm_backward_dx<T, 4, 1, 2>, 2); break;
      case 2: args(layer_norm_backward_dx<T, 4, 2, 2>, 2); break;
      case 3: args(layer_norm_backward_dx<T, 4, 3, 2>, 2); break;
      case 4: args(layer_norm_backward_dx<T, 4, 4, 2>, 2); break;
      case 5: args(layer_norm_backward_dx<T, 4, 5, 1>, 1); break;
      default: args(layer_norm_backward_dx<T, 4, 6, 1>, 1); break;
    }
  }
}

}  // namespace

void launch_layer_norm_backward_dx(const void* dy, const void* x, const float* mean, const float* rstd,
                                   const void* weight, const void* residual, int64_t rows, int64_t cols,
                                   FloatKind kind, void* dx, cudaStream_t stream) {
  switch (kind) {
    case FloatKind::f32: launch_backward_for<float>(dy, x, mean, rstd, weight, residual, rows, cols, dx, stream); break;
    case FloatKind::bf16: launch_backward_for<__nv_bfloat16>(dy, x, mean, rstd, weight, residual, rows, cols, dx, stream); break;
    case FloatKind::f16: launch_backward_for<__half>(dy, x, mean, rstd, weight, residual, rows, cols, dx, stream); break;
  }
}

void launch_layer_norm_forward(const void* x, const void* addend, const void* weight, const void* bias, int64_t rows,
                               int64_t cols, float eps, FloatKind kind, void* y, void* sum, float* mean, float* rstd,
                               cudaStream_t stream) {
  switch (kind) {
    case FloatKind::f32: launch_for<float>(x, addend, weight, bias, rows, cols, eps, y, sum, mean, rstd, stream); break;
    case FloatKind::bf16: launch_for<__nv_bfloat16>(x, addend, weight, bias, rows, cols, eps, y, sum, mean, rstd, stream); break;
    case FloatKind::f16: launch_for<__half>(x, addend, weight, bias, rows, cols, eps, y, sum, mean, rstd, stream); break;
  }
}

}  // namespace zs::kernels
