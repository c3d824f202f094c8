#pragma once
// Tiles and warp-level products shared by the fused FMA kernels: a thread block of kWarps
// warps holds kTile rows of one operand (16 per warp) against kTile rows of another, in
// shared memory. float16 and bfloat16 products run on the tensor cores (WMMA, float
// accumulators); float32 runs on the CUDA cores in float32, so its error stays the CPU's.

#include "cuda_compat.cuh"
#include "fma_cuda.h"
#include "fma_geometry.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace fmav {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kWarpRows = 16;              // rows of a tile each warp owns
constexpr int kTile = kWarps * kWarpRows;  // rows of every tile, and key columns per step
constexpr int kProbStride = kTile + 8;     // (16, kTile) P / dS tiles: WMMA wants 16-byte rows
static_assert(kTile == kCudaQueryTile, "fma_cuda.h sizes the backward's workspace by kCudaQueryTile");

template <typename T>
__device__ __forceinline__ float to_float(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else if constexpr (std::is_same_v<T, __half>) {
    return __half2float(x);
  } else {
    return __bfloat162float(x);
  }
}

template <typename T>
__device__ __forceinline__ T from_float(float x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(x);
  } else {
    return __float2bfloat16_rn(x);
  }
}

// Shared-memory row strides (elements). float: one word of padding, so a warp reading a
// column of 32 rows hits 32 banks. WMMA: a multiple of 8 elements (16 bytes), as it needs.
template <typename T, int D>
struct Strides {
  static constexpr bool kTensorCores = !std::is_same_v<T, float>;
  static constexpr int kOperand = kTensorCores ? D + 8 : D + 1;  // (kTile, D) operand tiles
  static constexpr int kProb = kProbStride;
};

// Bytes of `count` elements of E, rounded up to 128 so the next array stays aligned.
template <typename E>
constexpr std::size_t shared_bytes(std::size_t count) {
  return (count * sizeof(E) + 127) / 128 * 128;
}
template <typename T, int D>
constexpr std::size_t operand_bytes() {
  return shared_bytes<T>(static_cast<std::size_t>(kTile) * Strides<T, D>::kOperand);
}
template <typename T, int D>
constexpr std::size_t prob_bytes() {
  return shared_bytes<T>(static_cast<std::size_t>(kTile) * Strides<T, D>::kProb);
}
constexpr std::size_t score_bytes() { return shared_bytes<float>(static_cast<std::size_t>(kTile) * kTile); }
template <int D>
constexpr std::size_t acc_bytes() {
  return shared_bytes<float>(static_cast<std::size_t>(kTile) * D);
}

// Carves a shared-memory buffer into arrays, in order.
struct SharedCursor {
  unsigned char* at;
  template <typename E>
  __device__ E* take(std::size_t bytes) {
    E* out = reinterpret_cast<E*>(at);
    at += bytes;
    return out;
  }
};

// 16 bytes from src to dst, both 16-byte aligned: one vector access on the GPU; memcpy in
// the host emulation, where reading floats or halves through a uint4 would break C++'s
// aliasing rules.
__device__ __forceinline__ void copy16(void* dst, const void* src) {
#ifdef FMAV_CUDA_EMULATION
  std::memcpy(dst, src, 16);
#else
  *static_cast<uint4*>(dst) = *static_cast<const uint4*>(src);
#endif
}

// Copies rows [0, kTile) of an operand tile into shared `dst` (row stride kOperand): row r
// from src(r), or zeros where src(r) is null (a zero key scores 0 and a zero value adds
// nothing, so masked columns never carry garbage, NaN included). 16-byte global reads.
template <typename T, int D, typename RowSource>
__device__ void load_tile(T* dst, RowSource src) {
  constexpr int kVec = 16 / sizeof(T);  // elements per 16-byte chunk
  constexpr int kChunks = D / kVec;
  constexpr int kStride = Strides<T, D>::kOperand;
  for (int i = threadIdx.x; i < kTile * kChunks; i += kThreads) {
    const int r = i / kChunks, c = (i % kChunks) * kVec;
    const T* row = src(r);
    alignas(16) T chunk[kVec];
    if (row != nullptr) {
      copy16(chunk, row + c);
    } else {
      for (int j = 0; j < kVec; ++j) chunk[j] = from_float<T>(0.0f);
    }
    if constexpr (Strides<T, D>::kTensorCores) {
      copy16(dst + r * kStride + c, chunk);  // rows of kOperand elements stay 16-byte aligned
    } else {
      for (int j = 0; j < kVec; ++j) dst[r * kStride + c + j] = chunk[j];
    }
  }
}

// ---- warp products on the warp's 16 rows ----

// s (16, kTile) float, row stride kTile = a (16, D) . b (kTile, D)^T, unscaled.
template <typename T, int D>
__device__ void warp_scores(const T* a, const T* b, float* s) {
  constexpr int kStride = Strides<T, D>::kOperand;
  const int lane = threadIdx.x % 32;
  if constexpr (Strides<T, D>::kTensorCores) {
    using namespace nvcuda;
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa[D / 16];
    for (int kk = 0; kk < D / 16; ++kk) wmma::load_matrix_sync(fa[kk], a + kk * 16, kStride);
    for (int cb = 0; cb < kTile / 16; ++cb) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;
        wmma::load_matrix_sync(fb, b + cb * 16 * kStride + kk * 16, kStride);
        wmma::mma_sync(acc, fa[kk], fb, acc);
      }
      wmma::store_matrix_sync(s + cb * 16, acc, kTile, wmma::mem_row_major);
    }
  } else {
    // Lane owns columns lane and lane + 32 of all 16 rows.
    float c0[kWarpRows] = {}, c1[kWarpRows] = {};
    for (int d = 0; d < D; ++d) {
      const float b0 = b[lane * kStride + d], b1 = b[(lane + 32) * kStride + d];
#pragma unroll
      for (int r = 0; r < kWarpRows; ++r) {
        const float av = a[r * kStride + d];
        c0[r] += av * b0;
        c1[r] += av * b1;
      }
    }
#pragma unroll
    for (int r = 0; r < kWarpRows; ++r) {
      s[r * kTile + lane] = c0[r];
      s[r * kTile + lane + 32] = c1[r];
    }
  }
  __syncwarp();
}

// acc (16, D) float in shared memory, row stride D, += p (16, kTile; stride kProb) . b
// (kTile, D).
template <typename T, int D>
__device__ void warp_accumulate(const T* p, const T* b, float* acc) {
  constexpr int kStride = Strides<T, D>::kOperand, kProb = Strides<T, D>::kProb;
  const int lane = threadIdx.x % 32;
  if constexpr (Strides<T, D>::kTensorCores) {
    using namespace nvcuda;
    for (int cb = 0; cb < D / 16; ++cb) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
      wmma::load_matrix_sync(c, acc + cb * 16, D, wmma::mem_row_major);
      for (int kk = 0; kk < kTile / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
        wmma::load_matrix_sync(fa, p + kk * 16, kProb);
        wmma::load_matrix_sync(fb, b + kk * 16 * kStride + cb * 16, kStride);
        wmma::mma_sync(c, fa, fb, c);
      }
      wmma::store_matrix_sync(acc + cb * 16, c, D, wmma::mem_row_major);
    }
  } else {
    // Lane owns columns lane + 32 t of all 16 rows.
    constexpr int kCols = D / 32;
    float o[kWarpRows][kCols];
#pragma unroll
    for (int r = 0; r < kWarpRows; ++r) {
#pragma unroll
      for (int t = 0; t < kCols; ++t) o[r][t] = acc[r * D + lane + 32 * t];
    }
    for (int j = 0; j < kTile; ++j) {
      float bv[kCols];
#pragma unroll
      for (int t = 0; t < kCols; ++t) bv[t] = b[j * kStride + lane + 32 * t];
#pragma unroll
      for (int r = 0; r < kWarpRows; ++r) {
        const float pv = p[r * kProb + j];
#pragma unroll
        for (int t = 0; t < kCols; ++t) o[r][t] += pv * bv[t];
      }
    }
#pragma unroll
    for (int r = 0; r < kWarpRows; ++r) {
#pragma unroll
      for (int t = 0; t < kCols; ++t) acc[r * D + lane + 32 * t] = o[r][t];
    }
  }
  __syncwarp();
}

// Zeroes n floats of shared memory with the whole block.
__device__ inline void zero_shared(float* x, int n) {
  for (int i = threadIdx.x; i < n; i += kThreads) x[i] = 0.0f;
}

// Each lane of a warp serves half a row: row lane / 2, columns [half * 32, half * 32 + 32)
// of a (16, kTile) tile, half = lane % 2; its partner is lane ^ 1.
struct LaneRow {
  int row, half;
  __device__ LaneRow() : row((threadIdx.x % 32) / 2), half(threadIdx.x % 2) {}
  __device__ static float pair_max(float x) { return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1)); }
  __device__ static float pair_sum(float x) { return x + __shfl_xor_sync(0xffffffffu, x, 1); }
};

// ---- what a query tile sees (forward and the backward's dQ pass) ----

__host__ __device__ inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Query tiles per query block: a tile never spans two blocks, so it shares their near field
// and coarse slots.
__host__ __device__ inline std::int64_t tiles_per_block(std::int64_t block_size) {
  return ceil_div(block_size, kTile);
}

// The query tile of thread block blockIdx.x: real rows [row0, row0 + rows) of query block
// b, near keys [near_lo, near_hi) (causal: up to its last row) and its block's slots.
struct QueryTile {
  std::int64_t b = 0, row0 = 0;
  int rows = 0;
  std::int64_t near_lo = 0, near_hi = 0;
  std::int64_t slot_begin = 0, slot_count = 0;
  int near_steps = 0, steps = 0;  // key tiles: near ones first, then the coarse slots

  __device__ explicit QueryTile(const FmaCudaParams& p) {
    const std::int64_t per = tiles_per_block(p.block_size), m = p.block_size;
    b = blockIdx.x / per;
    const std::int64_t t = blockIdx.x % per;
    row0 = b * m + t * kTile;
    const std::int64_t real = min(min(static_cast<std::int64_t>(kTile), m - t * kTile), p.n - row0);
    rows = real > 0 ? static_cast<int>(real) : 0;
    const IndexRange keys = near_keys(b, row0, rows, m, p.n, p.causal);
    near_lo = keys.lo, near_hi = keys.hi;
    slot_begin = p.block_slots.offset[b];
    slot_count = p.block_slots.offset[b + 1] - slot_begin;
    near_steps = static_cast<int>(ceil_div(max(near_hi - near_lo, static_cast<std::int64_t>(0)), kTile));
    steps = near_steps + static_cast<int>(ceil_div(slot_count, kTile));
  }
  __device__ bool coarse(int step) const { return step >= near_steps; }
  // The first key (near) or CSR entry (coarse) of a step, and its columns.
  __device__ std::int64_t first(int step) const {
    return coarse(step) ? slot_begin + static_cast<std::int64_t>(step - near_steps) * kTile
                        : near_lo + static_cast<std::int64_t>(step) * kTile;
  }
  __device__ int cols(int step) const {
    const std::int64_t end = coarse(step) ? slot_begin + slot_count : near_hi;
    return static_cast<int>(min(static_cast<std::int64_t>(kTile), end - first(step)));
  }
};

// The key tile of a dK/dV thread block blockIdx.x, the transpose of a QueryTile: real keys
// [key0, key0 + keys) of key block `block` (none past n: keys is then 0 and the block has
// nothing to do), and the query rows [queries.lo, queries.hi) whose near field holds them.
struct KeyTile {
  std::int64_t block = 0, key0 = 0;
  int keys = 0;
  IndexRange queries;

  __device__ explicit KeyTile(const FmaCudaParams& p) {
    const std::int64_t m = p.block_size, per = tiles_per_block(m);
    block = blockIdx.x / per;
    key0 = block * m + (blockIdx.x % per) * kTile;
    const std::int64_t real = min(min(static_cast<std::int64_t>(kTile), (block + 1) * m - key0), p.n - key0);
    keys = real > 0 ? static_cast<int>(real) : 0;
    queries = near_queries(block, key0, m, p.n, p.causal);
  }
};

// Loads the key and value tiles of one step of head bh into ks, vs, and per column the
// score bias (0 near, the log multiplicity coarse, -inf past `cols`) and the key position
// causal masking compares with (-1 for coarse slots: their groups lie in the past).
template <typename T, int D>
__device__ void load_key_step(const FmaCudaParams& p, std::int64_t bh, bool coarse, std::int64_t first, int cols,
                              T* ks, T* vs, float* bias, long long* pos) {
  const T* k = static_cast<const T*>(coarse ? p.kc : p.k) + bh * (coarse ? p.slot_stride : p.head_stride);
  const T* v = static_cast<const T*>(coarse ? p.vc : p.v) + bh * (coarse ? p.slot_stride : p.head_stride);
  const auto row = [&](int r) -> std::int64_t { return coarse ? p.block_slots.index[first + r] : first + r; };
  load_tile<T, D>(ks, [&](int r) { return r < cols ? k + row(r) * D : nullptr; });
  load_tile<T, D>(vs, [&](int r) { return r < cols ? v + row(r) * D : nullptr; });
  for (int r = threadIdx.x; r < kTile; r += kThreads) {
    bias[r] = r >= cols ? -INFINITY : coarse ? p.block_slots.log_mult[first + r] : 0.0f;
    pos[r] = coarse || r >= cols ? -1 : first + r;
  }
}

// Runs body(coarse, first, cols) once per key step of a query tile, with the step's key and
// value tiles, biases and positions loaded between the two barriers every step needs. Every
// thread of the block must call it; body may return early (a warp's skipped step).
template <typename T, int D, typename Body>
__device__ void for_each_key_step(const FmaCudaParams& p, std::int64_t bh, const QueryTile& qt, T* ks, T* vs,
                                  float* bias, long long* pos, Body body) {
  for (int step = 0; step < qt.steps; ++step) {
    __syncthreads();  // the previous step's tiles are consumed
    const bool coarse = qt.coarse(step);
    const std::int64_t first = qt.first(step);
    const int cols = qt.cols(step);
    load_key_step<T, D>(p, bh, coarse, first, cols, ks, vs, bias, pos);
    __syncthreads();
    body(coarse, first, cols);
  }
}

}  // namespace fmav
