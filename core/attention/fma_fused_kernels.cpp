// Fused CPU kernels of FMA-1D (see fma_fused_kernels.h). The forward's score and value
// tiles and the softmax loops are the SIMD tile kernels of fused_tiles.cpp; the backward's
// larger products go to the BLAS LibTorch carries (sgemm_/dgemm_: MKL in the PyPI wheel).

#include "fma_fused_kernels.h"

#include "fused_tiles.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>

extern "C" {
void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc);
void dgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc);
}

namespace fmav {
namespace {

// ---- BLAS, row-major views ----

// Column-major C (m x n) = alpha op(A) op(B) + beta C, as BLAS defines it.
void gemm(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc) {
  sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}
void gemm(char ta, char tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b,
          int ldb, double beta, double* c, int ldc) {
  dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

// Row-major C (M x N) = alpha A (M x K) B^T (B is N x K) + beta C.
template <typename T>
void matmul_nt(int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta, T* C, int ldc) {
  gemm('T', 'N', N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
}
// Row-major C (M x N) = alpha A (M x K) B (K x N) + beta C.
template <typename T>
void matmul_nn(int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta, T* C, int ldc) {
  gemm('N', 'N', N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
}
// Row-major C (M x N) = alpha A^T (A is K x M) B (K x N) + beta C.
template <typename T>
void matmul_tn(int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta, T* C, int ldc) {
  gemm('N', 'T', N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
}

// ---- one query block ----

// The tile of one query block: near keys [lo, hi) and its coarse slots.
struct BlockGeometry {
  std::int64_t row0 = 0, rows = 0;  // real queries [row0, row0 + rows)
  std::int64_t lo = 0, hi = 0;      // near-field keys, clipped to the real tokens
  std::int64_t slot_begin = 0, slot_count = 0;
  std::int64_t slot_tile = 0;       // slot_count rounded up to whole vectors; the rest masked
};

// Rows and near-field keys of query block b (no coarse slots).
BlockGeometry near_geometry(std::int64_t b, std::int64_t n, std::int64_t m, bool causal) {
  BlockGeometry g;
  g.row0 = b * m;
  g.rows = std::min(m, n - g.row0);
  g.lo = std::max<std::int64_t>(0, (b - 1) * m);
  g.hi = std::min(n, (causal ? b + 1 : b + 2) * m);
  return g;
}

BlockGeometry block_geometry(std::int64_t b, std::int64_t n, std::int64_t m, bool causal,
                             const BlockSlots& slots) {
  BlockGeometry g = near_geometry(b, n, m, causal);
  g.slot_begin = slots.offset[b];
  g.slot_count = slots.offset[b + 1] - slots.offset[b];
  g.slot_tile = fused_slot_tile(g.slot_count);
  return g;
}

// Causal own block: rows are taken in bands of kBand, each needing keys only up to its last
// row, so most of the masked upper triangle is never computed.
constexpr std::int64_t kBand = 16;

// Keys of the causal own block that rows [r, r + kBand) of it can see.
std::int64_t band_keys(std::int64_t r, std::int64_t cols) { return std::min(cols, r + kBand); }

// Scaled near-field scores (rows x nk) from this head's keys k (n x dim), one key block at a
// time through a transposed (dim x m) panel in `panel`. Causal: the future is masked, and
// in the own block only the bands' visible keys are computed (padding needs no mask: hi
// stops at the real tokens).
template <typename T>
void near_scores(const FusedArgs<T>& a, const BlockGeometry& g, const T* q, const T* k, T* panel, T* s) {
  const std::int64_t nk = g.hi - g.lo, m = a.block_size, d = a.dim;
  const T scale = static_cast<T>(a.scale);
  for (std::int64_t key0 = g.lo; key0 < g.hi; key0 += m) {
    const std::int64_t cols = std::min(m, g.hi - key0);
    for (std::int64_t t = 0; t < cols; ++t) {
      for (std::int64_t c = 0; c < d; ++c) panel[c * m + t] = k[(key0 + t) * d + c];
    }
    T* out = s + (key0 - g.lo);
    if (!a.causal || key0 != g.row0) {
      qk_tile(q, d, panel, m, g.rows, cols, d, scale, out, nk);
      continue;
    }
    for (std::int64_t r = 0; r < g.rows; r += kBand) {
      qk_tile(q + r * d, d, panel, m, std::min(kBand, g.rows - r), band_keys(r, cols), d, scale, out + r * nk, nk);
    }
  }
  if (!a.causal) return;
  for (std::int64_t r = 0; r < g.rows; ++r) {
    const std::int64_t first_future = g.row0 + r + 1 - g.lo;
    for (std::int64_t c = first_future; c < nk; ++c) s[r * nk + c] = -std::numeric_limits<T>::infinity();
  }
}

// Gathers the block's coarse keys, transposed (dim x slot_tile), and values
// (slot_tile x dim) from the pyramid; the padding slots are zero.
template <typename T>
void gather_slots(const FusedArgs<T>& a, const BlockGeometry& g, const T* kc, const T* vc, T* kbuf_t, T* vbuf) {
  const std::int64_t tile = g.slot_tile;
  std::fill(kbuf_t, kbuf_t + a.dim * tile, T(0));
  std::fill(vbuf + g.slot_count * a.dim, vbuf + tile * a.dim, T(0));
  for (std::int64_t s = 0; s < g.slot_count; ++s) {
    const std::int64_t src = a.block_slots->index[g.slot_begin + s] * a.dim;
    for (std::int64_t c = 0; c < a.dim; ++c) kbuf_t[c * tile + s] = kc[src + c];
    std::copy(vc + src, vc + src + a.dim, vbuf + s * a.dim);
  }
}

// Scaled coarse scores (rows x slot_tile) plus each slot's log multiplicity; padding -inf.
template <typename T>
void coarse_scores(const FusedArgs<T>& a, const BlockGeometry& g, const T* q, const T* kbuf_t, T* s) {
  const std::int64_t tile = g.slot_tile;
  qk_tile(q, a.dim, kbuf_t, tile, g.rows, tile, a.dim, static_cast<T>(a.scale), s, tile);
  const double* log_mult = a.block_slots->log_mult.data() + g.slot_begin;
  for (std::int64_t r = 0; r < g.rows; ++r) {
    for (std::int64_t c = 0; c < g.slot_count; ++c) s[r * tile + c] += static_cast<T>(log_mult[c]);
    for (std::int64_t c = g.slot_count; c < tile; ++c) s[r * tile + c] = -std::numeric_limits<T>::infinity();
  }
}

// The widest coarse tile of any block (at least 1, so buffers are never empty).
std::int64_t max_block_slots(const BlockSlots& slots) {
  std::int64_t most = 1;
  for (std::size_t b = 0; b + 1 < slots.offset.size(); ++b) {
    most = std::max(most, fused_slot_tile(slots.offset[b + 1] - slots.offset[b]));
  }
  return most;
}

// Per-thread tiles: scores of the near field and of the coarse slots, gathered coarse
// keys/values, and a (rows x dim) accumulator; backward adds the score-gradient tiles.
template <typename T>
struct Scratch {
  std::vector<T> near, panel, coarse, kbuf, vbuf, acc, d_near, d_coarse;
  Scratch(const FusedArgs<T>& a, bool backward) {
    const std::int64_t m = a.block_size, slots = max_block_slots(*a.block_slots);
    near.resize(m * 3 * m);
    panel.resize(a.dim * m);
    coarse.resize(m * slots);
    kbuf.resize(slots * a.dim);
    vbuf.resize(slots * a.dim);
    acc.resize(m * a.dim);
    if (backward) d_near.resize(near.size()), d_coarse.resize(coarse.size());
  }
};

template <typename T>
void forward_block(const FusedArgs<T>& a, std::int64_t bh, std::int64_t b, Scratch<T>& sc) {
  const BlockGeometry g = block_geometry(b, a.n, a.block_size, a.causal, *a.block_slots);
  const std::int64_t d = a.dim, nk = g.hi - g.lo, nc = g.slot_tile;
  const T* q = a.q + (bh * a.n + g.row0) * d;
  const T* v = a.v + bh * a.n * d;
  std::vector<T> row_m(g.rows), row_l(g.rows);
  // Near field: max, exponentials and their sum, then P V.
  T* s = sc.near.data();
  near_scores(a, g, q, a.k + bh * a.n * d, sc.panel.data(), s);
  for (std::int64_t r = 0; r < g.rows; ++r) {
    row_m[r] = row_max(s + r * nk, nk);
    row_l[r] = exp_shift_sum(s + r * nk, nk, row_m[r]);
  }
  T* acc = sc.acc.data();
  if (!a.causal) {
    pv_tile(s, nk, v + g.lo * d, d, g.rows, d, nk, false, acc, d);
  } else {
    // The previous block whole, then the own block band by band (see near_scores).
    const std::int64_t before = g.row0 - g.lo, own = g.hi - g.row0;
    if (before > 0) pv_tile(s, nk, v + g.lo * d, d, g.rows, d, before, false, acc, d);
    for (std::int64_t r = 0; r < g.rows; r += kBand) {
      pv_tile(s + r * nk + before, nk, v + g.row0 * d, d, std::min(kBand, g.rows - r), d, band_keys(r, own),
              before > 0, acc + r * d, d);
    }
  }
  // Coarse slots of every level: the online softmax rescales what the near field summed.
  if (nc > 0) {
    gather_slots(a, g, a.kc + bh * a.slots * d, a.vc + bh * a.slots * d, sc.kbuf.data(), sc.vbuf.data());
    T* s2 = sc.coarse.data();
    coarse_scores(a, g, q, sc.kbuf.data(), s2);
    for (std::int64_t r = 0; r < g.rows; ++r) {
      const T m_new = std::max(row_m[r], row_max(s2 + r * nc, nc));
      const T alpha = std::exp(row_m[r] - m_new);
      row_l[r] = row_l[r] * alpha + exp_shift_sum(s2 + r * nc, nc, m_new);
      row_m[r] = m_new;
      for (std::int64_t c = 0; c < d; ++c) acc[r * d + c] *= alpha;
    }
    pv_tile(s2, nc, sc.vbuf.data(), d, g.rows, d, nc, true, acc, d);
  }
  T* out = a.out + (bh * a.n + g.row0) * d;
  T* lse = a.lse + bh * a.n + g.row0;
  for (std::int64_t r = 0; r < g.rows; ++r) {
    const T inv = 1 / row_l[r];
    for (std::int64_t c = 0; c < d; ++c) out[r * d + c] = acc[r * d + c] * inv;
    lse[r] = row_m[r] + std::log(row_l[r]);
  }
}

// Gradients of one query block. Near-field key/value gradients are added into d_k/d_v
// (the caller runs blocks whose near fields cannot overlap concurrently); coarse ones go to
// this block's own rows of d_kc_block/d_vc_block, summed into the pyramid afterwards.
template <typename T>
void backward_block(const FusedGradArgs<T>& ga, std::int64_t bh, std::int64_t b, Scratch<T>& sc, T* d_kc_block,
                    T* d_vc_block) {
  const FusedArgs<T>& a = ga.fwd;
  const BlockGeometry g = block_geometry(b, a.n, a.block_size, a.causal, *a.block_slots);
  const int d = static_cast<int>(a.dim), nk = static_cast<int>(g.hi - g.lo), nc = static_cast<int>(g.slot_tile);
  const int rows = static_cast<int>(g.rows);
  const T scale = static_cast<T>(a.scale);
  const std::int64_t row_offset = (bh * a.n + g.row0) * a.dim;
  const T* q = a.q + row_offset;
  const T* d_out = ga.d_out + row_offset;
  const T* out = a.out + row_offset;
  const T* lse = a.lse + bh * a.n + g.row0;
  const T* k = a.k + (bh * a.n + g.lo) * a.dim;
  const T* v = a.v + (bh * a.n + g.lo) * a.dim;
  T* d_k = ga.d_k + (bh * a.n + g.lo) * a.dim;
  T* d_v = ga.d_v + (bh * a.n + g.lo) * a.dim;
  // rowsum(dO * O), less the gradient of the log-sum-exp where it is an output too:
  // d lse / d s = P, so it adds P * d_lse to dS.
  std::vector<T> delta(rows);
  for (int r = 0; r < rows; ++r) {
    T sum = 0;
    for (int c = 0; c < d; ++c) sum += d_out[r * d + c] * out[r * d + c];
    delta[r] = ga.d_lse ? sum - ga.d_lse[bh * a.n + g.row0 + r] : sum;
  }
  T* d_q = sc.acc.data();
  // Near field: P from the saved log-sum-exp, then dV, dP, dS, dQ, dK.
  T* p = sc.near.data();
  T* ds = sc.d_near.data();
  near_scores(a, g, q, a.k + bh * a.n * a.dim, sc.panel.data(), p);
  for (int r = 0; r < rows; ++r) exp_shift_sum(p + r * nk, nk, lse[r]);
  matmul_tn<T>(nk, d, rows, 1, p, nk, d_out, d, 1, d_v, d);
  matmul_nt<T>(rows, nk, d, 1, d_out, d, v, d, 0, ds, nk);
  for (int r = 0; r < rows; ++r) softmax_grad_row(ds + r * nk, p + r * nk, delta[r], nk);
  matmul_nn<T>(rows, d, nk, scale, ds, nk, k, d, 0, d_q, d);
  matmul_tn<T>(nk, d, rows, scale, ds, nk, q, d, 1, d_k, d);
  // Coarse slots: the same, into this block's slot-gradient rows.
  if (nc > 0) {
    gather_slots(a, g, a.kc + bh * a.slots * a.dim, a.vc + bh * a.slots * a.dim, sc.kbuf.data(), sc.vbuf.data());
    T* p2 = sc.coarse.data();
    T* ds2 = sc.d_coarse.data();
    coarse_scores(a, g, q, sc.kbuf.data(), p2);
    for (int r = 0; r < rows; ++r) exp_shift_sum(p2 + r * nc, nc, lse[r]);
    matmul_tn<T>(nc, d, rows, 1, p2, nc, d_out, d, 0, d_vc_block, d);
    matmul_nt<T>(rows, nc, d, 1, d_out, d, sc.vbuf.data(), d, 0, ds2, nc);
    for (int r = 0; r < rows; ++r) softmax_grad_row(ds2 + r * nc, p2 + r * nc, delta[r], nc);
    matmul_nt<T>(rows, d, nc, scale, ds2, nc, sc.kbuf.data(), nc, 1, d_q, d);
    matmul_tn<T>(nc, d, rows, scale, ds2, nc, q, d, 0, d_kc_block, d);
  }
  std::copy(d_q, d_q + rows * d, ga.d_q + row_offset);
}

}  // namespace

// ---- forward ----

template <typename T>
void fma_fused_forward_cpu(const FusedArgs<T>& a) {
  const std::int64_t blocks = (a.n + a.block_size - 1) / a.block_size;
  at::parallel_for(0, a.bh * blocks, 1, [&](std::int64_t begin, std::int64_t end) {
    Scratch<T> scratch(a, false);
    for (std::int64_t job = begin; job < end; ++job) forward_block(a, job / blocks, job % blocks, scratch);
  });
}

template void fma_fused_forward_cpu<float>(const FusedArgs<float>&);
template void fma_fused_forward_cpu<double>(const FusedArgs<double>&);

// ---- backward ----

template <typename T>
void fma_fused_backward_cpu(const FusedGradArgs<T>& ga) {
  const FusedArgs<T>& a = ga.fwd;
  const std::int64_t blocks = (a.n + a.block_size - 1) / a.block_size;
  const std::int64_t slots = max_block_slots(*a.block_slots), d = a.dim;
  std::fill(ga.d_k, ga.d_k + a.bh * a.n * d, T(0));
  std::fill(ga.d_v, ga.d_v + a.bh * a.n * d, T(0));
  T* d_kc_blocks = ga.work_kc;
  T* d_vc_blocks = ga.work_vc;
  // Blocks three apart have disjoint near fields: three passes need no locks.
  for (std::int64_t phase = 0; phase < 3; ++phase) {
    const std::int64_t per_bh = (blocks - phase + 2) / 3;
    at::parallel_for(0, a.bh * per_bh, 1, [&](std::int64_t begin, std::int64_t end) {
      Scratch<T> scratch(a, true);
      for (std::int64_t job = begin; job < end; ++job) {
        const std::int64_t bh = job / per_bh, b = phase + 3 * (job % per_bh);
        const std::int64_t at = (bh * blocks + b) * slots * d;
        backward_block(ga, bh, b, scratch, d_kc_blocks + at, d_vc_blocks + at);
      }
    });
  }
  // Sum each block's coarse-slot gradients into the pyramid's, in block order.
  std::fill(ga.d_kc, ga.d_kc + a.bh * a.slots * d, T(0));
  std::fill(ga.d_vc, ga.d_vc + a.bh * a.slots * d, T(0));
  const BlockSlots& bs = *a.block_slots;
  at::parallel_for(0, a.bh, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t bh = begin; bh < end; ++bh) {
      for (std::int64_t b = 0; b < blocks; ++b) {
        for (std::int64_t s = 0; s < bs.offset[b + 1] - bs.offset[b]; ++s) {
          const std::int64_t src = ((bh * blocks + b) * slots + s) * d;
          const std::int64_t dst = (bh * a.slots + bs.index[bs.offset[b] + s]) * d;
          for (std::int64_t c = 0; c < d; ++c) {
            ga.d_kc[dst + c] += d_kc_blocks[src + c];
            ga.d_vc[dst + c] += d_vc_blocks[src + c];
          }
        }
      }
    }
  });
}

// Coarse tiles are padded to multiples of 16 columns, so the tile kernels run full vectors.
std::int64_t fused_slot_tile(std::int64_t slot_count) { return (slot_count + 15) / 16 * 16; }

double fused_near_pairs(std::int64_t n, std::int64_t m, bool causal) {
  double pairs = 0;
  for (std::int64_t b = 0; b * m < n; ++b) {
    const BlockGeometry g = near_geometry(b, n, m, causal);
    if (!causal) {
      pairs += static_cast<double>(g.rows) * (g.hi - g.lo);
      continue;
    }
    pairs += static_cast<double>(g.rows) * (g.row0 - g.lo);
    for (std::int64_t r = 0; r < g.rows; r += kBand) {
      pairs += static_cast<double>(std::min(kBand, g.rows - r)) * band_keys(r, g.hi - g.row0);
    }
  }
  return pairs;
}

std::int64_t fused_backward_workspace(std::int64_t bh, std::int64_t n, std::int64_t dim,
                                      std::int64_t block_size, const BlockSlots& slots) {
  return bh * ((n + block_size - 1) / block_size) * max_block_slots(slots) * dim;
}

template void fma_fused_backward_cpu<float>(const FusedGradArgs<float>&);
template void fma_fused_backward_cpu<double>(const FusedGradArgs<double>&);


}  // namespace fmav
