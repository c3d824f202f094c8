#pragma once
// The fused FMA-1D backward on CUDA (fma_cuda.h), recomputing the probabilities from the
// forward's row log-sum-exp (FlashAttention's scheme) in two passes:
//  - dQ, query-centric like the forward: per query tile, every near key tile and coarse slot
//    tile gives P, dP = dO V^T and dS = P (dP - delta); dQ += dS K. A coarse tile also adds
//    dS^T Q and P^T dO into the slots' float32 gradients, by atomics or through the
//    workspace slot_grad_reduce_kernel sums (a slot is seen by the query tiles of up to
//    three groups).
//  - dK, dV of the near field, key-centric: per key tile, the query tiles whose near field
//    holds it (key block j is seen by query blocks j-1, j, j+1; causal j, j+1 from the key
//    on) give dV += P^T dO and dK += dS^T Q, with no atomics.
// Compiled by nvcc through the .cu launcher, and for the host by the emulated-kernel tests
// (tests/cuda_emulation.h).

#include "fma_tiles.cuh"
#include "slot_grad_reduce_kernel.cuh"

namespace fmav {

template <typename T, int D>
constexpr std::size_t dq_shared_bytes() {
  return 4 * operand_bytes<T, D>() + 2 * score_bytes() + prob_bytes<T, D>() + acc_bytes<D>() +
         3 * shared_bytes<float>(kTile) + shared_bytes<long long>(kTile);
}

template <typename T, int D>
constexpr std::size_t dkv_shared_bytes() {
  return 3 * operand_bytes<T, D>() + 2 * score_bytes() + prob_bytes<T, D>() + 2 * acc_bytes<D>() +
         2 * shared_bytes<float>(kTile);
}

// Rows [row0, row0 + rows) of x (bh's head) into a shared tile; lse and delta of those rows
// into lse_s, delta_s, with lse +inf past `rows` so their probabilities are 0.
template <typename T, int D>
__device__ void load_query_rows(const FmaCudaGradParams& g, std::int64_t bh, std::int64_t row0, int rows, T* qs,
                                T* dos, float* lse_s, float* delta_s) {
  const FmaCudaParams& p = g.fwd;
  const T* q = static_cast<const T*>(p.q) + bh * p.head_stride;
  const T* d_out = static_cast<const T*>(g.d_out) + bh * p.head_stride;
  load_tile<T, D>(qs, [&](int r) { return r < rows ? q + (row0 + r) * D : nullptr; });
  load_tile<T, D>(dos, [&](int r) { return r < rows ? d_out + (row0 + r) * D : nullptr; });
  for (int r = threadIdx.x; r < kTile; r += kThreads) {
    lse_s[r] = r < rows ? p.lse[bh * p.n + row0 + r] : INFINITY;
    delta_s[r] = r < rows ? g.delta[bh * p.n + row0 + r] : 0.0f;
  }
}

// The coarse slots' gradients of one tile: d_kc[slot] += scale dS^T Q, d_vc[slot] += P^T dO
// over the query tile's rows (probabilities and dS of rows past `rows` are 0).
template <typename T, int D>
__device__ void add_slot_grads(const FmaCudaGradParams& g, std::int64_t bh, std::int64_t first, int cols, int rows,
                               const float* probs, const float* dscores, const T* qs, const T* dos) {
  constexpr int kStride = Strides<T, D>::kOperand;
  const FmaCudaParams& p = g.fwd;
  // With the workspace: this tile's row of entry e is e * per + tile (slot_partial_row).
  const std::int64_t per = tiles_per_block(p.block_size);
  float* part_k = g.slot_partial == nullptr ? nullptr : g.slot_partial + (bh * g.entries * per + blockIdx.x % per) * D;
  const std::int64_t v_offset = p.bh * g.entries * per * D;
  for (int i = threadIdx.x; i < cols * D; i += kThreads) {
    const int j = i / D, c = i % D;
    float dk = 0.0f, dv = 0.0f;
    for (int r = 0; r < rows; ++r) {
      dk += dscores[r * kTile + j] * to_float(qs[r * kStride + c]);
      dv += probs[r * kTile + j] * to_float(dos[r * kStride + c]);
    }
    if (part_k != nullptr) {
      const std::int64_t at = (first + j) * per * D + c;
      part_k[at] = dk * p.scale;
      part_k[v_offset + at] = dv;
    } else {
      const std::int64_t at = bh * p.slot_stride + p.block_slots.index[first + j] * D + c;
      atomicAdd(g.d_kc + at, dk * p.scale);
      atomicAdd(g.d_vc + at, dv);
    }
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) fma_backward_dq_kernel(const FmaCudaGradParams g) {
  const FmaCudaParams& p = g.fwd;
  const QueryTile qt(p);
  const std::int64_t bh = blockIdx.y;
  if (qt.rows == 0) {
    if (g.slot_partial != nullptr) zero_slot_partials(g, bh, qt.slot_begin, qt.slot_count);
    return;
  }
  constexpr int kStride = Strides<T, D>::kOperand, kProb = Strides<T, D>::kProb;
  FMAV_DYNAMIC_SHARED(smem);
  SharedCursor cur{smem};
  T* qs = cur.take<T>(operand_bytes<T, D>());
  T* dos = cur.take<T>(operand_bytes<T, D>());
  T* ks = cur.take<T>(operand_bytes<T, D>());
  T* vs = cur.take<T>(operand_bytes<T, D>());
  float* probs = cur.take<float>(score_bytes());
  float* dscores = cur.take<float>(score_bytes());
  T* ds_t = cur.take<T>(prob_bytes<T, D>());
  float* dqs = cur.take<float>(acc_bytes<D>());
  float* lse_s = cur.take<float>(shared_bytes<float>(kTile));
  float* delta_s = cur.take<float>(shared_bytes<float>(kTile));
  float* bias = cur.take<float>(shared_bytes<float>(kTile));
  long long* pos = cur.take<long long>(shared_bytes<long long>(kTile));

  load_query_rows<T, D>(g, bh, qt.row0, qt.rows, qs, dos, lse_s, delta_s);
  zero_shared(dqs, kTile * D);

  const int warp = threadIdx.x / 32;
  const LaneRow lr;
  const int local = warp * kWarpRows + lr.row;
  const long long query = qt.row0 + local;
  const long long warp_last = qt.row0 + min(warp * kWarpRows + kWarpRows, qt.rows) - 1;
  float* p_w = probs + warp * kWarpRows * kTile;
  float* ds_w = dscores + warp * kWarpRows * kTile;
  T* dst_w = ds_t + warp * kWarpRows * kProb;
  float* dq_w = dqs + warp * kWarpRows * D;

  for_each_key_step<T, D>(p, bh, qt, ks, vs, bias, pos, [&](bool coarse, std::int64_t first, int cols) {
    if (!(p.causal && !coarse && first > warp_last)) {
      warp_scores<T, D>(qs + warp * kWarpRows * kStride, ks, p_w);
      warp_scores<T, D>(dos + warp * kWarpRows * kStride, vs, ds_w);
      for (int j = lr.half * 32; j < lr.half * 32 + 32; ++j) {
        const int e = lr.row * kTile + j;
        const float x = p_w[e] * p.scale + bias[j];
        const bool seen = (!p.causal || pos[j] <= query) && x != -INFINITY;
        const float prob = seen ? expf(x - lse_s[local]) : 0.0f;
        const float ds = prob * (ds_w[e] - delta_s[local]);
        p_w[e] = prob;
        ds_w[e] = ds;
        dst_w[lr.row * kProb + j] = from_float<T>(ds);
      }
      __syncwarp();
      warp_accumulate<T, D>(dst_w, ks, dq_w);
    }
    if (coarse) {
      __syncthreads();  // every warp's P and dS of this tile are in shared memory
      add_slot_grads<T, D>(g, bh, first, cols, qt.rows, probs, dscores, qs, dos);
    }
  });

  if (local >= qt.rows) return;
  T* d_q = static_cast<T*>(g.d_q) + bh * p.head_stride + query * D;
  for (int c = lr.half * (D / 2); c < (lr.half + 1) * (D / 2); ++c) {
    d_q[c] = from_float<T>(dq_w[lr.row * D + c] * p.scale);
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) fma_backward_dkv_kernel(const FmaCudaGradParams g) {
  const FmaCudaParams& p = g.fwd;
  const KeyTile kt(p);
  if (kt.keys == 0) return;
  const std::int64_t key0 = kt.key0, bh = blockIdx.y;
  const int keys = kt.keys;
  const IndexRange queries = kt.queries;
  const std::int64_t q_lo = queries.lo, q_hi = queries.hi;
  constexpr int kStride = Strides<T, D>::kOperand, kProb = Strides<T, D>::kProb;
  FMAV_DYNAMIC_SHARED(smem);
  SharedCursor cur{smem};
  T* kv = cur.take<T>(operand_bytes<T, D>());  // the tile's keys, then its values
  T* qs = cur.take<T>(operand_bytes<T, D>());
  T* dos = cur.take<T>(operand_bytes<T, D>());
  float* scores = cur.take<float>(score_bytes());
  float* dscores = cur.take<float>(score_bytes());
  T* probs_t = cur.take<T>(prob_bytes<T, D>());
  float* dks = cur.take<float>(acc_bytes<D>());
  float* dvs = cur.take<float>(acc_bytes<D>());
  float* lse_s = cur.take<float>(shared_bytes<float>(kTile));
  float* delta_s = cur.take<float>(shared_bytes<float>(kTile));
  zero_shared(dks, kTile * D);
  zero_shared(dvs, kTile * D);

  const T* k = static_cast<const T*>(p.k) + bh * p.head_stride;
  const T* v = static_cast<const T*>(p.v) + bh * p.head_stride;
  const int warp = threadIdx.x / 32;
  const LaneRow lr;
  const int local = warp * kWarpRows + lr.row;
  const long long key = key0 + local;
  const long long warp_first = key0 + warp * kWarpRows;
  const T* kv_w = kv + warp * kWarpRows * kStride;
  float* s_w = scores + warp * kWarpRows * kTile;
  float* ds_w = dscores + warp * kWarpRows * kTile;
  T* pt_w = probs_t + warp * kWarpRows * kProb;

  for (std::int64_t q0 = q_lo; q0 < q_hi; q0 += kTile) {
    const int rows = static_cast<int>(min(static_cast<std::int64_t>(kTile), q_hi - q0));
    __syncthreads();
    load_query_rows<T, D>(g, bh, q0, rows, qs, dos, lse_s, delta_s);
    load_tile<T, D>(kv, [&](int r) { return r < keys ? k + (key0 + r) * D : nullptr; });
    __syncthreads();
    // Causal: queries that all come before the warp's first key see none of its keys.
    const bool skip = p.causal && q0 + rows - 1 < warp_first;
    if (!skip) warp_scores<T, D>(kv_w, qs, s_w);  // S^T: the warp's keys x the tile's queries
    __syncthreads();
    load_tile<T, D>(kv, [&](int r) { return r < keys ? v + (key0 + r) * D : nullptr; });
    __syncthreads();
    if (skip) continue;
    warp_scores<T, D>(kv_w, dos, ds_w);  // dP^T
    for (int j = lr.half * 32; j < lr.half * 32 + 32; ++j) {
      const int e = lr.row * kTile + j;
      const bool seen = local < keys && (!p.causal || q0 + j >= key);
      const float prob = seen ? expf(s_w[e] * p.scale - lse_s[j]) : 0.0f;
      ds_w[e] = prob * (ds_w[e] - delta_s[j]);
      pt_w[lr.row * kProb + j] = from_float<T>(prob);
    }
    __syncwarp();
    warp_accumulate<T, D>(pt_w, dos, dvs + warp * kWarpRows * D);
    for (int j = lr.half * 32; j < lr.half * 32 + 32; ++j) {
      pt_w[lr.row * kProb + j] = from_float<T>(ds_w[lr.row * kTile + j]);
    }
    __syncwarp();
    warp_accumulate<T, D>(pt_w, qs, dks + warp * kWarpRows * D);
  }

  if (local >= keys) return;
  T* d_k = static_cast<T*>(g.d_k) + bh * p.head_stride + key * D;
  T* d_v = static_cast<T*>(g.d_v) + bh * p.head_stride + key * D;
  for (int c = lr.half * (D / 2); c < (lr.half + 1) * (D / 2); ++c) {
    d_k[c] = from_float<T>(dks[local * D + c] * p.scale);
    d_v[c] = from_float<T>(dvs[local * D + c]);
  }
}

}  // namespace fmav
