#pragma once
// The fused FMA-1D forward for float16 and bfloat16 at D = 64 and 128, in FlashAttention-2's
// manner (docs/CUDA.md "The FlashAttention-2-class forward"): a thread block of 4 warps owns a
// query tile of 64 rows (16 per warp) and streams 64-key tiles — the near field, then its
// block's coarse slots of every level — through one online softmax. Products are warp-level
// mma.sync m16n8k16 fed by ldmatrix; scores, probabilities and the output stay in registers
// (P goes from the score accumulators straight into the A operand of P V); key and value
// tiles are double-buffered in shared memory by cp.async, the next tile's copy in flight
// while the current one is used. Writes out and the row log-sum-exp as fma_forward_kernel
// does, so the backward is unchanged. Other dtypes and D run on fma_forward_kernel.

#include "fma_tiles.cuh"
#include "mma_sm80.cuh"

namespace fmav {

// The shapes this kernel takes; fma_forward_cuda sends everything else to fma_forward_kernel.
template <typename T, int D>
constexpr bool kFa2ForwardTakes = !std::is_same_v<T, float> && (D == 64 || D == 128);

// Shared rows of D + 8 elements: the 8 rows one ldmatrix matrix reads start in 8 different
// 16-byte bank groups, and every row stays 16-byte aligned for cp.async.
template <int D>
constexpr int kFa2Stride = D + 8;

template <typename T, int D>
constexpr std::size_t fa2_tile_bytes() {
  return shared_bytes<T>(static_cast<std::size_t>(kTile) * kFa2Stride<D>);
}
// Q, two stages of K and V, two stages of per-column score biases.
template <typename T, int D>
constexpr std::size_t fa2_forward_shared_bytes() {
  return 5 * fa2_tile_bytes<T, D>() + 2 * shared_bytes<float>(kTile);
}

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Issues the copies of one key step's K and V tiles (zeros past its columns) into ks, vs,
// and writes each column's score bias (0 near, the log multiplicity coarse, -inf past the
// columns). Every thread of the block calls it.
template <typename T, int D>
__device__ void fa2_issue_step(const FmaCudaParams& p, std::int64_t bh, const QueryTile& qt, int step, T* ks, T* vs,
                               float* bias) {
  const bool coarse = qt.coarse(step);
  const std::int64_t first = qt.first(step);
  const int cols = qt.cols(step);
  const T* k = static_cast<const T*>(coarse ? p.kc : p.k) + bh * (coarse ? p.slot_stride : p.head_stride);
  const T* v = static_cast<const T*>(coarse ? p.vc : p.v) + bh * (coarse ? p.slot_stride : p.head_stride);
  constexpr int kVec = 16 / sizeof(T), kChunks = D / kVec;
  for (int i = threadIdx.x; i < kTile * kChunks; i += kThreads) {
    const int r = i / kChunks, c = (i % kChunks) * kVec;
    const bool real = r < cols;
    const std::int64_t row = !real ? 0 : coarse ? p.block_slots.index[first + r] : first + r;
    cp_async_16(ks + r * kFa2Stride<D> + c, k + row * D + c, real);
    cp_async_16(vs + r * kFa2Stride<D> + c, v + row * D + c, real);
  }
  for (int r = threadIdx.x; r < kTile; r += kThreads) {
    bias[r] = r >= cols ? -INFINITY : coarse ? p.block_slots.log_mult[first + r] : 0.0f;
  }
}

// The running softmax state of the lane's two rows (g and g + 8 of its warp), in log2 units
// of the scaled scores, and their output fragments: o[j] holds columns 8 j + 2t, 8 j + 2t + 1.
template <int D>
struct Fa2Rows {
  float o[D / 8][4];
  float max[2] = {-INFINITY, -INFINITY};
  float sum[2] = {0.0f, 0.0f};  // this lane's share; the quad's lanes add up at the end
};

// c (16, kCols) float = a (16 rows of the warp, D) . b (kCols rows, D)^T, both row-major in
// shared memory (stride kFa2Stride): c[j] holds columns 8 j + 2t, 8 j + 2t + 1 of rows g, g + 8.
// The forward's S = Q K^T (kCols = 64 keys); the backward's S, dP and their transposes.
template <typename T, int D, int kCols>
__device__ __forceinline__ void fa2_products(const T* a_w, const T* b, float (&c)[kCols / 8][4]) {
  const int lane = threadIdx.x % 32, matrix = lane / 8, row = lane % 8;
#pragma unroll
  for (int j = 0; j < kCols / 8; ++j) c[j][0] = c[j][1] = c[j][2] = c[j][3] = 0.0f;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    // A: matrices (rows 0-7, 8-15) x (columns 0-7, 8-15) of this 16-column slice.
    std::uint32_t a[4];
    ldmatrix_x4(a, a_w + (row + 8 * (matrix & 1)) * kFa2Stride<D> + kk * 16 + 8 * (matrix >> 1));
#pragma unroll
    for (int np = 0; np < kCols / 16; ++np) {
      // B = b^T, b row-major: rows np 16 + (0-7, 8-15) x columns (0-7, 8-15) give two 8-column tiles.
      std::uint32_t bf[4];
      ldmatrix_x4(bf, b + (np * 16 + row + 8 * (matrix >> 1)) * kFa2Stride<D> + kk * 16 + 8 * (matrix & 1));
      mma_m16n8k16<T>(c[2 * np], a, bf[0], bf[1]);
      mma_m16n8k16<T>(c[2 * np + 1], a, bf[2], bf[3]);
    }
  }
}

// acc (16, D) += x (16, kCols; accumulator layout, rounded to T) . b (kCols rows, D) with b
// row-major in shared memory: the accumulators of column tiles 2 kk, 2 kk + 1 are the A
// fragment of columns 16 kk .. 16 kk + 15. The forward's O += P V (b = V, keys by dims,
// transposed by ldmatrix); the backward's dV, dK and dQ products.
template <typename T, int D, int kCols>
__device__ __forceinline__ void fa2_accumulate(const float (&x)[kCols / 8][4], const T* b, float (&acc)[D / 8][4]) {
  const int lane = threadIdx.x % 32, matrix = lane / 8, row = lane % 8;
#pragma unroll
  for (int kk = 0; kk < kCols / 16; ++kk) {
    const std::uint32_t a[4] = {pack_pair<T>(x[2 * kk][0], x[2 * kk][1]), pack_pair<T>(x[2 * kk][2], x[2 * kk][3]),
                                pack_pair<T>(x[2 * kk + 1][0], x[2 * kk + 1][1]),
                                pack_pair<T>(x[2 * kk + 1][2], x[2 * kk + 1][3])};
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      std::uint32_t bf[4];
      ldmatrix_x4_trans(bf, b + (kk * 16 + row + 8 * (matrix & 1)) * kFa2Stride<D> + dp * 16 + 8 * (matrix >> 1));
      mma_m16n8k16<T>(acc[2 * dp], a, bf[0], bf[1]);
      mma_m16n8k16<T>(acc[2 * dp + 1], a, bf[2], bf[3]);
    }
  }
}

// One key tile for one warp: scores, the online-softmax step and O += P V.
template <typename T, int D>
__device__ __forceinline__ void fa2_warp_step(const FmaCudaParams& p, const T* q_w, const T* ks, const T* vs,
                                              const float* bias, bool mask_future, std::int64_t first,
                                              const long long (&query)[2], Fa2Rows<D>& st) {
  const int tq = threadIdx.x % 32 % 4;
  float s[kTile / 8][4];
  fa2_products<T, D, kTile>(q_w, ks, s);

  const float scale = p.scale * kLog2e;
  float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int j = 0; j < kTile / 8; ++j) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int col = 8 * j + 2 * tq + (i & 1);
      const bool seen = !mask_future || first + col <= query[i / 2];
      const float x = seen ? s[j][i] * scale + bias[col] * kLog2e : -INFINITY;
      s[j][i] = x;
      tile_max[i / 2] = fmaxf(tile_max[i / 2], x);
    }
  }
  float alpha[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    // The quad (lanes 4g .. 4g + 3) holds the row.
    tile_max[h] = fmaxf(tile_max[h], __shfl_xor_sync(0xffffffffu, tile_max[h], 1));
    tile_max[h] = fmaxf(tile_max[h], __shfl_xor_sync(0xffffffffu, tile_max[h], 2));
    const float m_new = fmaxf(st.max[h], tile_max[h]);
    // Nothing seen yet (m_new = -inf): no probability, nothing to rescale.
    alpha[h] = m_new == -INFINITY ? 1.0f : exp2f(st.max[h] - m_new);
    st.max[h] = m_new;
    st.sum[h] *= alpha[h];
  }
#pragma unroll
  for (int j = 0; j < kTile / 8; ++j) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float m = st.max[i / 2];
      const float e = (m == -INFINITY || s[j][i] == -INFINITY) ? 0.0f : exp2f(s[j][i] - m);
      s[j][i] = e;
      st.sum[i / 2] += e;
    }
  }
#pragma unroll
  for (int j = 0; j < D / 8; ++j) {
    st.o[j][0] *= alpha[0], st.o[j][1] *= alpha[0];
    st.o[j][2] *= alpha[1], st.o[j][3] *= alpha[1];
  }
  // O += P V: the score accumulators are the A fragments of P.
  fa2_accumulate<T, D, kTile>(s, vs, st.o);
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads, 1) fma_forward_fa2_kernel(const FmaCudaParams p) {
  const QueryTile qt(p);
  if (qt.rows == 0) return;
  const std::int64_t bh = blockIdx.y;
  constexpr int kStride = kFa2Stride<D>;
  FMAV_DYNAMIC_SHARED(smem);
  SharedCursor cur{smem};
  // Stage s of K, V and the biases at s tile (bias) elements from the first; no arrays of
  // pointers, which a run-time stage index would put in local memory.
  constexpr int kTileElems = static_cast<int>(fa2_tile_bytes<T, D>() / sizeof(T));
  constexpr int kBiasElems = static_cast<int>(shared_bytes<float>(kTile) / sizeof(float));
  T* qs = cur.take<T>(fa2_tile_bytes<T, D>());
  T* ks = cur.take<T>(2 * fa2_tile_bytes<T, D>());
  T* vs = cur.take<T>(2 * fa2_tile_bytes<T, D>());
  float* bias = cur.take<float>(2 * shared_bytes<float>(kTile));

  // Group 0: the query tile (zeros past its rows) and the first key step.
  const T* q = static_cast<const T*>(p.q) + bh * p.head_stride;
  constexpr int kVec = 16 / sizeof(T), kChunks = D / kVec;
  for (int i = threadIdx.x; i < kTile * kChunks; i += kThreads) {
    const int r = i / kChunks, c = (i % kChunks) * kVec;
    cp_async_16(qs + r * kStride + c, q + (qt.row0 + (r < qt.rows ? r : 0)) * D + c, r < qt.rows);
  }
  fa2_issue_step<T, D>(p, bh, qt, 0, ks, vs, bias);
  cp_async_commit();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;
  const int local[2] = {warp * kWarpRows + g, warp * kWarpRows + g + 8};
  const long long query[2] = {qt.row0 + local[0], qt.row0 + local[1]};
  const bool warp_has_rows = warp * kWarpRows < qt.rows;
  const long long warp_last = qt.row0 + min(warp * kWarpRows + kWarpRows, qt.rows) - 1;
  const T* q_w = qs + warp * kWarpRows * kStride;
  Fa2Rows<D> st;
#pragma unroll
  for (int j = 0; j < D / 8; ++j) st.o[j][0] = st.o[j][1] = st.o[j][2] = st.o[j][3] = 0.0f;

  for (int step = 0; step < qt.steps; ++step) {
    const int stage = step & 1, next = stage ^ 1;
    // The next step's copies fly while this one computes; its group may be empty.
    if (step + 1 < qt.steps) {
      fa2_issue_step<T, D>(p, bh, qt, step + 1, ks + next * kTileElems, vs + next * kTileElems,
                           bias + next * kBiasElems);
    }
    cp_async_commit();
    cp_async_wait<1>();  // this step's group (and the query tile) landed for this thread
    __syncthreads();     // ... and for every thread
    const bool coarse = qt.coarse(step);
    const std::int64_t first = qt.first(step);
    // Causal: a near tile starting after the warp's last row holds only its future.
    const bool skip = !warp_has_rows || (p.causal && !coarse && first > warp_last);
    if (!skip) {
      fa2_warp_step<T, D>(p, q_w, ks + stage * kTileElems, vs + stage * kTileElems, bias + stage * kBiasElems,
                          p.causal && !coarse, first, query, st);
    }
    __syncthreads();  // every warp is done with this stage before the next issue refills it
  }

  T* out = static_cast<T*>(p.out) + bh * p.head_stride;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float sum = st.sum[h];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    if (local[h] >= qt.rows) continue;
    // Every query sees at least itself, so sum > 0 for real rows.
    const float inv = 1.0f / sum;
    T* out_row = out + query[h] * D;
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      const std::uint32_t pair = pack_pair<T>(st.o[j][2 * h] * inv, st.o[j][2 * h + 1] * inv);
#ifdef FMAV_CUDA_EMULATION
      std::memcpy(static_cast<void*>(out_row + 8 * j + 2 * tq), &pair, sizeof pair);
#else
      *reinterpret_cast<std::uint32_t*>(out_row + 8 * j + 2 * tq) = pair;
#endif
    }
    if (tq == 0) p.lse[bh * p.n + query[h]] = (st.max[h] + log2f(sum)) * kLn2;
  }
}

}  // namespace fmav
