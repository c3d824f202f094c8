#pragma once
// The fused FMA-1D backward for float16 and bfloat16 at D = 64 and 128, in the class of the
// FlashAttention-2 forward (fma_forward_fa2_kernel.cuh): warp-level mma.sync m16n8k16 fed by
// ldmatrix, scores, probabilities and gradients in registers, operand tiles double-buffered
// in shared memory by cp.async. P is recomputed from q, k and the forward's lse; with
// dP = dO V^T and dS = P (dP - delta):
//  - fma_backward_fa2_dkv_kernel, one thread block per near-field key tile (64 keys, 16 per
//    warp): streams the query tiles whose near field holds its keys and keeps dV += P^T dO
//    and dK += dS^T Q in registers; written once, no atomics.
//  - fma_backward_fa2_dq_kernel, one thread block per query tile, streaming its near keys and
//    its block's coarse slots like the forward: dQ += dS K in registers. A coarse step also
//    gives the tile's partial dK_c = dS^T Q and dV_c = P^T dO of its 64 slots (through shared
//    memory, where P and dS are transposed), which go to the workspace that
//    slot_grad_reduce_kernel sums in a fixed order, or by atomics (fma_cuda.h).
// Why dQ is a pass of its own rather than FA2's atomics from the key-centric kernel: a key
// tile's near field is at most three query blocks, so the extra pass costs one more
// recomputation of S over the near field (about a third of the backward's products), while
// it keeps dQ free of atomics and deterministic, needs no float32 dQ buffer, and is where
// the coarse slots' gradients come from anyway: a slot is seen by the query tiles of up to
// three groups up to N/2 wide, so a key-centric pass over a tile of slots would walk O(N)
// queries for a few slots, where the query tiles already hold its P and dS.

#include "fma_forward_fa2_kernel.cuh"
#include "slot_grad_reduce_kernel.cuh"

namespace fmav {

// The shapes these kernels take; fma_backward_cuda sends everything else to
// fma_backward_kernels.cuh.
template <typename T, int D>
constexpr bool kFa2BackwardTakes = kFa2ForwardTakes<T, D>;

// (64 queries, 64 slots) of P or dS for a coarse step, rows 16-byte aligned for ldmatrix.
constexpr int kFa2ScratchStride = kTile + 8;
template <typename T>
constexpr std::size_t fa2_scratch_bytes() {
  return shared_bytes<T>(static_cast<std::size_t>(kTile) * kFa2ScratchStride);
}

// dQ: Q and dO tiles, two stages of K and V, two stages of score biases, the scratch tile.
template <typename T, int D>
constexpr std::size_t fa2_dq_shared_bytes() {
  return 6 * fa2_tile_bytes<T, D>() + 2 * shared_bytes<float>(kTile) + fa2_scratch_bytes<T>();
}
// dK dV: K and V tiles, two stages of Q and dO, two stages of lse and delta.
template <typename T, int D>
constexpr std::size_t fa2_dkv_shared_bytes() {
  return 6 * fa2_tile_bytes<T, D>() + 4 * shared_bytes<float>(kTile);
}

// Query columns the dK dV kernel takes per pass over a query tile: at D = 128 its two
// (16, D) accumulators hold 128 registers, so S^T and dP^T come in halves.
template <int D>
constexpr int kFa2DkvCols = D == 128 ? 32 : kTile;

// Two T (one register) to a 4-byte aligned address: one 32-bit store on the GPU; memcpy in
// the host emulation (aliasing rules).
__device__ __forceinline__ void store_pair(void* dst, std::uint32_t pair) {
#ifdef FMAV_CUDA_EMULATION
  std::memcpy(dst, &pair, sizeof pair);
#else
  *static_cast<std::uint32_t*>(dst) = pair;
#endif
}

// Issues the copies of `rows` rows of x (rows D apart, from row0) into the shared tile dst,
// zeros past them. Every thread of the block calls it.
template <typename T, int D>
__device__ void fa2_issue_rows(T* dst, const T* x, std::int64_t row0, int rows) {
  constexpr int kVec = 16 / sizeof(T), kChunks = D / kVec;
  for (int i = threadIdx.x; i < kTile * kChunks; i += kThreads) {
    const int r = i / kChunks, c = (i % kChunks) * kVec;
    cp_async_16(dst + r * kFa2Stride<D> + c, x + (row0 + (r < rows ? r : 0)) * D + c, r < rows);
  }
}

// ---- dQ and the coarse slots' partial gradients, per query tile ----

// Writes the warp's (16, 64) tile x (accumulator layout) into rows of the shared scratch.
template <typename T>
__device__ __forceinline__ void fa2_to_scratch(const float (&x)[kTile / 8][4], T* scratch_w) {
  const int lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;
#pragma unroll
  for (int j = 0; j < kTile / 8; ++j) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const std::uint32_t pair = pack_pair<T>(x[j][2 * h], x[j][2 * h + 1]);
      store_pair(scratch_w + (g + 8 * h) * kFa2ScratchStride + 8 * j + 2 * tq, pair);
    }
  }
}

// The tile's partial gradient of the warp's 16 slots, scratch^T (slots, queries) . b
// (queries, D), 64 channels at a time, to emit_slot_partial (times `scale`).
template <typename T, int D>
__device__ void fa2_slot_partials(const FmaCudaGradParams& g, std::int64_t bh, bool v, std::int64_t first, int cols,
                                  const T* scratch, const T* b, float scale) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, matrix = lane / 8, row = lane % 8;
  const int gq = lane / 4, tq = lane % 4;
  if (warp * kWarpRows >= cols) return;
#pragma unroll 1
  for (int d0 = 0; d0 < D; d0 += 64) {
    float acc[8][4];
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
#pragma unroll
    for (int kq = 0; kq < kTile / 16; ++kq) {
      // A = scratch^T: matrices (slots 0-7, 8-15) x (queries 0-7, 8-15), each stored transposed.
      std::uint32_t a[4];
      ldmatrix_x4_trans(a, scratch + (kq * 16 + row + 8 * (matrix >> 1)) * kFa2ScratchStride + warp * kWarpRows +
                               8 * (matrix & 1));
#pragma unroll
      for (int dp = 0; dp < 4; ++dp) {
        std::uint32_t bf[4];
        ldmatrix_x4_trans(bf, b + (kq * 16 + row + 8 * (matrix & 1)) * kFa2Stride<D> + d0 + dp * 16 +
                                  8 * (matrix >> 1));
        mma_m16n8k16<T>(acc[2 * dp], a, bf[0], bf[1]);
        mma_m16n8k16<T>(acc[2 * dp + 1], a, bf[2], bf[3]);
      }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int slot = warp * kWarpRows + gq + 8 * (i / 2);
      if (slot >= cols) continue;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        emit_slot_partial(g, bh, v, first + slot, d0 + 8 * j + 2 * tq + (i & 1), acc[j][i] * scale);
      }
    }
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads, 2) fma_backward_fa2_dq_kernel(const FmaCudaGradParams g) {
  const FmaCudaParams& p = g.fwd;
  const QueryTile qt(p);
  const std::int64_t bh = blockIdx.y;
  if (qt.rows == 0) {
    if (g.slot_partial != nullptr) zero_slot_partials(g, bh, qt.slot_begin, qt.slot_count);
    return;
  }
  constexpr int kStride = kFa2Stride<D>;
  FMAV_DYNAMIC_SHARED(smem);
  SharedCursor cur{smem};
  constexpr int kTileElems = static_cast<int>(fa2_tile_bytes<T, D>() / sizeof(T));
  constexpr int kBiasElems = static_cast<int>(shared_bytes<float>(kTile) / sizeof(float));
  T* qs = cur.take<T>(fa2_tile_bytes<T, D>());
  T* dos = cur.take<T>(fa2_tile_bytes<T, D>());
  T* ks = cur.take<T>(2 * fa2_tile_bytes<T, D>());
  T* vs = cur.take<T>(2 * fa2_tile_bytes<T, D>());
  float* bias = cur.take<float>(2 * shared_bytes<float>(kTile));
  T* scratch = cur.take<T>(fa2_scratch_bytes<T>());

  // Group 0: the query and output-gradient tiles (zeros past the rows) and the first key step.
  fa2_issue_rows<T, D>(qs, static_cast<const T*>(p.q) + bh * p.head_stride, qt.row0, qt.rows);
  fa2_issue_rows<T, D>(dos, static_cast<const T*>(g.d_out) + bh * p.head_stride, qt.row0, qt.rows);
  fa2_issue_step<T, D>(p, bh, qt, 0, ks, vs, bias);
  cp_async_commit();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane / 4, tq = lane % 4;
  const int local[2] = {warp * kWarpRows + gq, warp * kWarpRows + gq + 8};
  const long long query[2] = {qt.row0 + local[0], qt.row0 + local[1]};
  // The lane's rows' lse in log2 units (+inf past the rows: probability 0) and delta.
  float lse2[2], delta[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const bool real = local[h] < qt.rows;
    lse2[h] = real ? p.lse[bh * p.n + query[h]] * kLog2e : INFINITY;
    delta[h] = real ? g.delta[bh * p.n + query[h]] : 0.0f;
  }
  const bool warp_has_rows = warp * kWarpRows < qt.rows;
  const long long warp_last = qt.row0 + min(warp * kWarpRows + kWarpRows, qt.rows) - 1;
  const T* q_w = qs + warp * kWarpRows * kStride;
  const T* do_w = dos + warp * kWarpRows * kStride;
  T* scratch_w = scratch + warp * kWarpRows * kFa2ScratchStride;
  float dq[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; ++j) dq[j][0] = dq[j][1] = dq[j][2] = dq[j][3] = 0.0f;

  const float scale = p.scale * kLog2e;
  for (int step = 0; step < qt.steps; ++step) {
    const int stage = step & 1, next = stage ^ 1;
    if (step + 1 < qt.steps) {
      fa2_issue_step<T, D>(p, bh, qt, step + 1, ks + next * kTileElems, vs + next * kTileElems,
                           bias + next * kBiasElems);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const bool coarse = qt.coarse(step);
    const std::int64_t first = qt.first(step);
    const T* k_s = ks + stage * kTileElems;
    const float* bias_s = bias + stage * kBiasElems;
    const bool skip = !warp_has_rows || (p.causal && !coarse && first > warp_last);
    // P in s, dS in dp: zero where the warp skips (a coarse step's scratch reads them).
    float s[kTile / 8][4], dp[kTile / 8][4];
    if (skip) {
#pragma unroll
      for (int j = 0; j < kTile / 8; ++j) {
#pragma unroll
        for (int i = 0; i < 4; ++i) s[j][i] = dp[j][i] = 0.0f;
      }
    } else {
      fa2_products<T, D, kTile>(q_w, k_s, s);
      fa2_products<T, D, kTile>(do_w, vs + stage * kTileElems, dp);
      const bool mask_future = p.causal && !coarse;
#pragma unroll
      for (int j = 0; j < kTile / 8; ++j) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int col = 8 * j + 2 * tq + (i & 1);
          const bool seen = (!mask_future || first + col <= query[i / 2]) && bias_s[col] != -INFINITY;
          const float prob = seen ? exp2f(s[j][i] * scale + bias_s[col] * kLog2e - lse2[i / 2]) : 0.0f;
          s[j][i] = prob;
          dp[j][i] = prob * (dp[j][i] - delta[i / 2]);
        }
      }
      fa2_accumulate<T, D, kTile>(dp, k_s, dq);
    }
    if (coarse) {
      // The step's slots: dV_c from P, then dK_c from dS, each through the scratch tile.
      const int cols = qt.cols(step);
      fa2_to_scratch<T>(s, scratch_w);
      __syncthreads();
      fa2_slot_partials<T, D>(g, bh, true, first, cols, scratch, dos, 1.0f);
      __syncthreads();
      fa2_to_scratch<T>(dp, scratch_w);
      __syncthreads();
      fa2_slot_partials<T, D>(g, bh, false, first, cols, scratch, qs, p.scale);
    }
    __syncthreads();  // every warp is done with this stage (and the scratch) before the next refill
  }

  T* d_q = static_cast<T*>(g.d_q) + bh * p.head_stride;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    if (local[h] >= qt.rows) continue;
    T* row = d_q + query[h] * D;
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      const std::uint32_t pair = pack_pair<T>(dq[j][2 * h] * p.scale, dq[j][2 * h + 1] * p.scale);
      store_pair(row + 8 * j + 2 * tq, pair);
    }
  }
}

// ---- dK, dV of the near field, per key tile ----

template <typename T, int D>
__global__ void __launch_bounds__(kThreads, 2) fma_backward_fa2_dkv_kernel(const FmaCudaGradParams g) {
  const FmaCudaParams& p = g.fwd;
  const KeyTile kt(p);
  if (kt.keys == 0) return;
  const std::int64_t key0 = kt.key0, bh = blockIdx.y;
  const int keys = kt.keys;
  const IndexRange queries = kt.queries;
  const int steps = static_cast<int>(ceil_div(queries.hi - queries.lo, kTile));
  constexpr int kStride = kFa2Stride<D>;
  constexpr int kTileElems = static_cast<int>(fa2_tile_bytes<T, D>() / sizeof(T));
  constexpr int kRowElems = static_cast<int>(shared_bytes<float>(kTile) / sizeof(float));
  FMAV_DYNAMIC_SHARED(smem);
  SharedCursor cur{smem};
  T* ks = cur.take<T>(fa2_tile_bytes<T, D>());
  T* vs = cur.take<T>(fa2_tile_bytes<T, D>());
  T* qs = cur.take<T>(2 * fa2_tile_bytes<T, D>());
  T* dos = cur.take<T>(2 * fa2_tile_bytes<T, D>());
  float* lse_s = cur.take<float>(2 * shared_bytes<float>(kTile));    // log2 units, +inf past the rows
  float* delta_s = cur.take<float>(2 * shared_bytes<float>(kTile));

  const T* q = static_cast<const T*>(p.q) + bh * p.head_stride;
  const T* d_out = static_cast<const T*>(g.d_out) + bh * p.head_stride;
  // The query tile of a step: its Q and dO copies, its lse and delta stored directly (the
  // barrier of the step that reads them, after this step's end barrier, publishes them).
  const auto issue = [&](int step, int stage) {
    const std::int64_t q0 = queries.lo + static_cast<std::int64_t>(step) * kTile;
    const int rows = static_cast<int>(min(static_cast<std::int64_t>(kTile), queries.hi - q0));
    fa2_issue_rows<T, D>(qs + stage * kTileElems, q, q0, rows);
    fa2_issue_rows<T, D>(dos + stage * kTileElems, d_out, q0, rows);
    for (int r = threadIdx.x; r < kTile; r += kThreads) {
      lse_s[stage * kRowElems + r] = r < rows ? p.lse[bh * p.n + q0 + r] * kLog2e : INFINITY;
      delta_s[stage * kRowElems + r] = r < rows ? g.delta[bh * p.n + q0 + r] : 0.0f;
    }
  };
  fa2_issue_rows<T, D>(ks, static_cast<const T*>(p.k) + bh * p.head_stride, key0, keys);
  fa2_issue_rows<T, D>(vs, static_cast<const T*>(p.v) + bh * p.head_stride, key0, keys);
  if (steps > 0) issue(0, 0);
  cp_async_commit();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane / 4, tq = lane % 4;
  const long long key[2] = {key0 + warp * kWarpRows + gq, key0 + warp * kWarpRows + gq + 8};
  const long long warp_first = key0 + warp * kWarpRows;
  const bool warp_has_keys = warp * kWarpRows < keys;
  const T* k_w = ks + warp * kWarpRows * kStride;
  const T* v_w = vs + warp * kWarpRows * kStride;
  constexpr int kCols = kFa2DkvCols<D>;
  const float scale = p.scale * kLog2e;
  float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; ++j) {
    dk[j][0] = dk[j][1] = dk[j][2] = dk[j][3] = 0.0f;
    dv[j][0] = dv[j][1] = dv[j][2] = dv[j][3] = 0.0f;
  }

  for (int step = 0; step < steps; ++step) {
    const int stage = step & 1;
    if (step + 1 < steps) issue(step + 1, stage ^ 1);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const std::int64_t q0 = queries.lo + static_cast<std::int64_t>(step) * kTile;
    const int rows = static_cast<int>(min(static_cast<std::int64_t>(kTile), queries.hi - q0));
    // Causal: queries that all come before the warp's first key see none of its keys.
    const bool skip = !warp_has_keys || (p.causal && q0 + rows - 1 < warp_first);
    if (!skip) {
      const T* q_s = qs + stage * kTileElems;
      const T* do_s = dos + stage * kTileElems;
      const float* lse_st = lse_s + stage * kRowElems;
      const float* delta_st = delta_s + stage * kRowElems;
#pragma unroll 1
      for (int c0 = 0; c0 < kTile; c0 += kCols) {
        // S^T and dP^T: the warp's keys x queries c0 .. c0 + kCols.
        float s[kCols / 8][4], dp[kCols / 8][4];
        fa2_products<T, D, kCols>(k_w, q_s + c0 * kStride, s);
        fa2_products<T, D, kCols>(v_w, do_s + c0 * kStride, dp);
#pragma unroll
        for (int j = 0; j < kCols / 8; ++j) {
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const int col = c0 + 8 * j + 2 * tq + (i & 1);
            const bool seen = !p.causal || q0 + col >= key[i / 2];
            const float prob = seen ? exp2f(s[j][i] * scale - lse_st[col]) : 0.0f;
            s[j][i] = prob;
            dp[j][i] = prob * (dp[j][i] - delta_st[col]);
          }
        }
        fa2_accumulate<T, D, kCols>(s, do_s + c0 * kStride, dv);
        fa2_accumulate<T, D, kCols>(dp, q_s + c0 * kStride, dk);
      }
    }
    __syncthreads();  // every warp is done with this stage before the next issue refills it
  }

  T* d_k = static_cast<T*>(g.d_k) + bh * p.head_stride;
  T* d_v = static_cast<T*>(g.d_v) + bh * p.head_stride;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    if (key[h] - key0 >= keys) continue;
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      const std::uint32_t kpair = pack_pair<T>(dk[j][2 * h] * p.scale, dk[j][2 * h + 1] * p.scale);
      const std::uint32_t vpair = pack_pair<T>(dv[j][2 * h], dv[j][2 * h + 1]);
      store_pair(d_k + key[h] * D + 8 * j + 2 * tq, kpair);
      store_pair(d_v + key[h] * D + 8 * j + 2 * tq, vpair);
    }
  }
}

}  // namespace fmav
