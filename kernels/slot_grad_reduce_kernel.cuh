#pragma once
// The second half of the backward's deterministic coarse-slot gradients (fma_cuda.h,
// FmaCudaGradParams::slot_partial): one thread block per (slot, head), one thread per
// channel, adding the partial sums of every query tile that saw the slot in entry order,
// then the tiles of each entry's block in order. A fixed order, so a fixed result.

#include "fma_tiles.cuh"

namespace fmav {

// Row of slot_partial (per head and gradient) that query tile `tile` of the block of CSR
// entry e writes.
__host__ __device__ inline std::int64_t slot_partial_row(std::int64_t e, std::int64_t tile, std::int64_t block_size) {
  return e * tiles_per_block(block_size) + tile;
}

// Launched with grid (slots, bh) and D (= dim) threads.
template <int D>
__global__ void __launch_bounds__(D) slot_grad_reduce_kernel(const FmaCudaGradParams g) {
  const FmaCudaParams& p = g.fwd;
  const std::int64_t slot = blockIdx.x, bh = blockIdx.y, per = tiles_per_block(p.block_size);
  const int c = static_cast<int>(threadIdx.x);
  const std::int64_t rows = g.entries * per;
  const float* dk_part = g.slot_partial + bh * rows * D;
  const float* dv_part = g.slot_partial + (p.bh + bh) * rows * D;
  float dk = 0.0f, dv = 0.0f;
  for (std::int64_t i = g.slot_entries.offset[slot]; i < g.slot_entries.offset[slot + 1]; ++i) {
    const std::int64_t e = g.slot_entries.entry[i];
    for (std::int64_t t = 0; t < per; ++t) {
      const std::int64_t at = slot_partial_row(e, t, p.block_size) * D + c;
      dk += dk_part[at];
      dv += dv_part[at];
    }
  }
  const std::int64_t out = bh * p.slot_stride + slot * D + c;
  g.d_kc[out] += dk;
  g.d_vc[out] += dv;
}

// A query tile with no rows (the last block's, past n) still owns rows of slot_partial:
// zeros, so the reduction reads no garbage. Every thread of the block calls it.
__device__ inline void zero_slot_partials(const FmaCudaGradParams& g, std::int64_t bh, std::int64_t slot_begin,
                                          std::int64_t slot_count) {
  const FmaCudaParams& p = g.fwd;
  const std::int64_t per = tiles_per_block(p.block_size), tile = blockIdx.x % per, rows = g.entries * per;
  for (std::int64_t i = threadIdx.x; i < slot_count * p.dim; i += kThreads) {
    const std::int64_t e = slot_begin + i / p.dim, c = i % p.dim;
    const std::int64_t at = slot_partial_row(e, tile, p.block_size) * p.dim + c;
    g.slot_partial[bh * rows * p.dim + at] = 0.0f;
    g.slot_partial[(p.bh + bh) * rows * p.dim + at] = 0.0f;
  }
}

// Where query tile blockIdx.x's partial of slot entry e, channel c, goes: slot_partial when
// set, else added into d_kc / d_vc (`v` picks which) by an atomic.
__device__ inline void emit_slot_partial(const FmaCudaGradParams& g, std::int64_t bh, bool v, std::int64_t e, int c,
                                         float x) {
  const FmaCudaParams& p = g.fwd;
  if (g.slot_partial != nullptr) {
    const std::int64_t per = tiles_per_block(p.block_size), rows = g.entries * per;
    const std::int64_t at = slot_partial_row(e, blockIdx.x % per, p.block_size) * p.dim + c;
    g.slot_partial[((v ? p.bh : 0) + bh) * rows * p.dim + at] = x;
  } else {
    atomicAdd((v ? g.d_vc : g.d_kc) + bh * p.slot_stride + p.block_slots.index[e] * p.dim + c, x);
  }
}

}  // namespace fmav
