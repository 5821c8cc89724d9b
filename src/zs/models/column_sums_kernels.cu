// Column sums in two passes: blocks of 256 threads each own a 128-column tile and a range of rows,
// every thread summing 8 adjacent columns (16-byte loads) over every 16th row of the range; the
// block folds its 16 row lanes in shared memory into one row of partial sums. A second kernel adds
// the partial rows per column and rounds once. The split depends only on the shape, so the result
// is the same bits run after run. ATen reduces the bias gradient with a generic reduction and the
// LayerNorm weight gradient with a kernel tuned for few, long rows; at nanoGPT's shakespeare_char
// shape (16,384 rows of 384) those took 27 and 53 us per call, for 12.6 MB each.
#include "zs/models/column_sums_kernels.hpp"

#include <algorithm>

#include "zs/kernels/vec8.cuh"

namespace zs::kernels {
namespace {

constexpr int kTx = 16;             // threads across a tile: 16 x 8 = 128 columns
constexpr int kTy = 16;             // row lanes
constexpr int kTile = kTx * kVec8;  // columns per block
constexpr int kThreads = kTx * kTy;

template <typename T, bool kNorm>
__global__ void __launch_bounds__(kThreads) partial_column_sums(const T* __restrict__ dy, const T* __restrict__ x,
                                                                 const float* __restrict__ mean,
                                                                 const float* __restrict__ rstd, int64_t rows,
                                                                 int64_t cols, int64_t rows_per_block,
                                                                 float* __restrict__ partial) {
  const int tx = threadIdx.x % kTx, ty = threadIdx.x / kTx;
  const int64_t c0 = int64_t(blockIdx.x) * kTile + int64_t(tx) * kVec8;
  const int64_t r_begin = int64_t(blockIdx.y) * rows_per_block;
  const int64_t r_end = r_begin + rows_per_block < rows ? r_begin + rows_per_block : rows;
  float s[kVec8] = {}, g[kVec8] = {};
  if (c0 < cols) {
#pragma unroll 4
    for (int64_t r = r_begin + ty; r < r_end; r += kTy) {
      float d[kVec8];
      load8(dy + r * cols + c0, d);
#pragma unroll
      for (int j = 0; j < kVec8; ++j) s[j] += d[j];
      if constexpr (kNorm) {
        float v[kVec8];
        load8(x + r * cols + c0, v);
        const float m = mean[r], rs = rstd[r];
#pragma unroll
        for (int j = 0; j < kVec8; ++j) g[j] += d[j] * ((v[j] - m) * rs);
      }
    }
  }
  // Fold the 16 row lanes: [sum][lane][column of the tile].
  __shared__ float fold[kNorm ? 2 : 1][kTy][kTile];
#pragma unroll
  for (int j = 0; j < kVec8; ++j) {
    fold[0][ty][tx * kVec8 + j] = s[j];
    if constexpr (kNorm) fold[kNorm ? 1 : 0][ty][tx * kVec8 + j] = g[j];
  }
  __syncthreads();
  const int column = threadIdx.x % kTile, which = threadIdx.x / kTile;  // 256 threads: 128 columns x 2 sums
  const int64_t c = int64_t(blockIdx.x) * kTile + column;
  if (which < (kNorm ? 2 : 1) && c < cols) {
    float total = 0.f;
#pragma unroll
    for (int lane = 0; lane < kTy; ++lane) total += fold[which][lane][column];
    partial[(int64_t(which) * gridDim.y + blockIdx.y) * cols + c] = total;
  }
}

// out[which][c] = sum over the row blocks of partial[which][b][c], rounded to TOut. A block takes 32
// columns; its 8 row lanes sum every 8th partial row, then lane 0 adds the 8 in a fixed order.
constexpr int kFinishLanes = 8;

template <typename TOut>
__global__ void __launch_bounds__(32 * kFinishLanes) finish_column_sums(const float* __restrict__ partial,
                                                                        int row_blocks, int64_t cols,
                                                                        TOut* __restrict__ sum_dy,
                                                                        TOut* __restrict__ sum_dy_xhat) {
  const int tx = threadIdx.x % 32, ty = threadIdx.x / 32;
  const int64_t c = int64_t(blockIdx.x) * 32 + tx;
  const int which = blockIdx.y;
  float total = 0.f;
  if (c < cols) {
    const float* p = partial + int64_t(which) * row_blocks * cols + c;
    for (int b = ty; b < row_blocks; b += kFinishLanes) total += p[int64_t(b) * cols];
  }
  __shared__ float lanes[kFinishLanes][32];
  lanes[ty][tx] = total;
  __syncthreads();
  if (ty == 0 && c < cols) {
    float sum = 0.f;
#pragma unroll
    for (int l = 0; l < kFinishLanes; ++l) sum += lanes[l][tx];
    (which == 0 ? sum_dy : sum_dy_xhat)[c] = narrow<TOut>(sum);
  }
}

template <typename T>
void launch_partial(const void* dy, const void* x, const float* mean, const float* rstd, int64_t rows, int64_t cols,
                    int row_blocks, float* workspace, cudaStream_t stream) {
  const dim3 grid(unsigned((cols + kTile - 1) / kTile), unsigned(row_blocks));
  const int64_t rows_per_block = (rows + row_blocks - 1) / row_blocks;
  if (x)
    partial_column_sums<T, true><<<grid, kThreads, 0, stream>>>(static_cast<const T*>(dy), static_cast<const T*>(x),
                                                                 mean, rstd, rows, cols, rows_per_block, workspace);
  else
    partial_column_sums<T, false><<<grid, kThreads, 0, stream>>>(static_cast<const T*>(dy), nullptr, nullptr,
                                                                  nullptr, rows, cols, rows_per_block, workspace);
}

template <typename TOut>
void launch_finish(const float* workspace, int row_blocks, int64_t cols, int sums, void* sum_dy, void* sum_dy_xhat,
                   cudaStream_t stream) {
  const dim3 grid(unsigned((cols + 31) / 32), unsigned(sums));
  finish_column_sums<TOut><<<grid, 32 * kFinishLanes, 0, stream>>>(workspace, row_blocks, cols,
                                                                   static_cast<TOut*>(sum_dy),
                                                                   static_cast<TOut*>(sum_dy_xhat));
}

// The second pass: each column's sum over the row blocks' partial rows, in a fixed order.
void launch_finish_column_sums(const float* workspace, int row_blocks, int64_t cols, int sums, FloatKind out_kind,
                               void* sum_dy, void* sum_dy_xhat, cudaStream_t stream) {
  switch (out_kind) {
    case FloatKind::f32: launch_finish<float>(workspace, row_blocks, cols, sums, sum_dy, sum_dy_xhat, stream); break;
    case FloatKind::bf16: launch_finish<__nv_bfloat16>(workspace, row_blocks, cols, sums, sum_dy, sum_dy_xhat, stream); break;
    case FloatKind::f16: launch_finish<__half>(workspace, row_blocks, cols, sums, sum_dy, sum_dy_xhat, stream); break;
  }
}

}  // namespace

int column_sums_row_blocks(int64_t rows, int64_t cols, int multiprocessors) {
  const int64_t tiles = (cols + kTile - 1) / kTile;
  const int64_t wanted = std::max<int64_t>(1, (4 * int64_t(multiprocessors) + tiles - 1) / tiles);
  // At least a row per lane in each block, and no more blocks than a grid dimension holds.
  const int64_t most = std::max<int64_t>(1, std::min<int64_t>((rows + kTy - 1) / kTy, 65535));
  return int(std::min(wanted, most));
}

void launch_column_sums(const void* dy, const void* x, const float* mean, const float* rstd, int64_t rows,
                        int64_t cols, FloatKind in_kind, int row_blocks, float* workspace, FloatKind out_kind,
                        void* sum_dy, void* sum_dy_xhat, cudaStream_t stream) {
  switch (in_kind) {
    case FloatKind::f32: launch_partial<float>(dy, x, mean, rstd, rows, cols, row_blocks, workspace, stream); break;
    case FloatKind::bf16: launch_partial<__nv_bfloat16>(dy, x, mean, rstd, rows, cols, row_blocks, workspace, stream); break;
    case FloatKind::f16: launch_partial<__half>(dy, x, mean, rstd, rows, cols, row_blocks, workspace, stream); break;
  }
  launch_finish_column_sums(workspace, row_blocks, cols, x ? 2 : 1, out_kind, sum_dy, sum_dy_xhat, stream);
}

}  // namespace zs::kernels
