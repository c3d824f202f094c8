#pragma once
// The fused FMA-1D forward on CUDA (fma_cuda.h): one thread block per query tile of kTile
// rows; each warp owns 16 rows and keeps their running max, sum and output in shared
// memory while the near-field key tiles and then the coarse slots stream past (§2: one
// softmax over every slot of every level). Writes out and the row log-sum-exp.
// Compiled by nvcc through the .cu launcher, and for the host by the emulated-kernel tests
// (tests/cuda_emulation.h).

#include "fma_tiles.cuh"

namespace fmav {

template <typename T, int D>
constexpr std::size_t forward_shared_bytes() {
  return 3 * operand_bytes<T, D>() + score_bytes() + prob_bytes<T, D>() + acc_bytes<D>() +
         shared_bytes<float>(kTile) + shared_bytes<long long>(kTile);
}

// One step of the online softmax for the lane's half row: scores s (scaled here, biased,
// masked) become probabilities in prob against the new running max; returns the factor the
// row's earlier sum and output are rescaled by.
template <typename T>
__device__ float online_softmax_step(const float* s, const float* bias, const long long* pos, long long query,
                                     bool causal, float scale, T* prob, float* m_run, float* l_run) {
  const LaneRow lr;
  float tile_max = -INFINITY;
  for (int j = lr.half * 32; j < lr.half * 32 + 32; ++j) {
    const bool seen = !causal || pos[j] <= query;
    if (seen) tile_max = fmaxf(tile_max, s[lr.row * kTile + j] * scale + bias[j]);
  }
  tile_max = LaneRow::pair_max(tile_max);
  const float m_new = fmaxf(*m_run, tile_max);
  // Nothing seen yet (m_new = -inf): no probability, nothing to rescale.
  const bool none = m_new == -INFINITY;
  const float alpha = none ? 1.0f : expf(*m_run - m_new);
  float sum = 0.0f;
  for (int j = lr.half * 32; j < lr.half * 32 + 32; ++j) {
    const bool seen = !causal || pos[j] <= query;
    const float x = s[lr.row * kTile + j] * scale + bias[j];
    const float e = (none || !seen || x == -INFINITY) ? 0.0f : expf(x - m_new);
    prob[lr.row * kProbStride + j] = from_float<T>(e);
    sum += e;
  }
  *l_run = *l_run * alpha + LaneRow::pair_sum(sum);
  *m_run = m_new;
  return alpha;
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) fma_forward_kernel(const FmaCudaParams p) {
  const QueryTile qt(p);
  if (qt.rows == 0) return;
  const std::int64_t bh = blockIdx.y;
  constexpr int kStride = Strides<T, D>::kOperand, kProb = Strides<T, D>::kProb;
  FMAV_DYNAMIC_SHARED(smem);
  SharedCursor cur{smem};
  T* qs = cur.take<T>(operand_bytes<T, D>());
  T* ks = cur.take<T>(operand_bytes<T, D>());
  T* vs = cur.take<T>(operand_bytes<T, D>());
  float* scores = cur.take<float>(score_bytes());
  T* probs = cur.take<T>(prob_bytes<T, D>());
  float* outs = cur.take<float>(acc_bytes<D>());
  float* bias = cur.take<float>(shared_bytes<float>(kTile));
  long long* pos = cur.take<long long>(shared_bytes<long long>(kTile));

  const T* q = static_cast<const T*>(p.q) + bh * p.head_stride;
  load_tile<T, D>(qs, [&](int r) { return r < qt.rows ? q + (qt.row0 + r) * D : nullptr; });
  zero_shared(outs, kTile * D);

  const int warp = threadIdx.x / 32;
  const LaneRow lr;
  const int local = warp * kWarpRows + lr.row;
  const long long query = qt.row0 + local;
  const long long warp_last = qt.row0 + min(warp * kWarpRows + kWarpRows, qt.rows) - 1;
  const T* q_w = qs + warp * kWarpRows * kStride;
  float* s_w = scores + warp * kWarpRows * kTile;
  T* p_w = probs + warp * kWarpRows * kProb;
  float* o_w = outs + warp * kWarpRows * D;
  float m_run = -INFINITY, l_run = 0.0f;

  for_each_key_step<T, D>(p, bh, qt, ks, vs, bias, pos, [&](bool coarse, std::int64_t first, int) {
    // Causal: a near tile starting after the warp's last row holds only its future.
    if (p.causal && !coarse && first > warp_last) return;
    warp_scores<T, D>(q_w, ks, s_w);
    const float alpha = online_softmax_step<T>(s_w, bias, pos, query, p.causal, p.scale, p_w, &m_run, &l_run);
    for (int c = lr.half * (D / 2); c < (lr.half + 1) * (D / 2); ++c) o_w[lr.row * D + c] *= alpha;
    __syncwarp();
    warp_accumulate<T, D>(p_w, vs, o_w);
  });

  if (local >= qt.rows) return;
  // Every query sees at least itself, so l_run > 0 for real rows.
  const float inv = 1.0f / l_run;
  T* out = static_cast<T*>(p.out) + bh * p.head_stride + query * D;
  for (int c = lr.half * (D / 2); c < (lr.half + 1) * (D / 2); ++c) out[c] = from_float<T>(o_w[lr.row * D + c] * inv);
  if (lr.half == 0) p.lse[bh * p.n + query] = m_run + logf(l_run);
}

}  // namespace fmav
