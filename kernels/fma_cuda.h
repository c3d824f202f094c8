#pragma once
// The fused FMA-1D kernels for CUDA (docs/DESIGN.md §2), FlashAttention's scheme: a thread block
// per query tile streams its near-field key tiles, then its block's coarse slots of every
// level, through one online softmax; scores stay in shared memory; backward recomputes them.
// Plain pointers, sizes and strides; no torch header. Called from core/src/cuda_dispatch.cpp
// only, which checks every argument before the launch.

#include <cstdint>

namespace fmav {

enum class CudaDtype { f32, f16, bf16 };

// A launcher's result: nullptr on success, else the CUDA runtime's message.
using CudaStatus = const char*;

// The coarse slots each query block sees, on the device: CSR over query blocks into the
// concatenated pyramid's rows (level l's group g, slot j at row base_l + g p + j), with each
// slot's log multiplicity added to its score. Masked slots are left out.
struct CudaBlockSlots {
  const std::int64_t* offset = nullptr;  // (blocks + 1)
  const std::int64_t* index = nullptr;   // (offset[blocks])
  const float* log_mult = nullptr;       // (offset[blocks])
};

// One forward call. q, k, v, out are (bh, n, dim) with rows dim apart (the last axis
// contiguous) and heads head_stride apart; kc, vc (bh, slots, dim) with heads slot_stride
// apart; lse (bh, n) float32, contiguous. Every data pointer 16-byte aligned; dim is 32, 64
// or 128; bh <= 65535.
struct FmaCudaParams {
  CudaDtype dtype = CudaDtype::f32;
  int dim = 64;
  std::int64_t bh = 0, n = 0, block_size = 0, slots = 0;
  std::int64_t head_stride = 0, slot_stride = 0;
  bool causal = false;
  float scale = 1.0f;  // 1 / sqrt(dim)
  const void *q = nullptr, *k = nullptr, *v = nullptr, *kc = nullptr, *vc = nullptr;
  CudaBlockSlots block_slots;
  void* out = nullptr;
  float* lse = nullptr;
};

// The inverse of CudaBlockSlots for the coarse slots' gradients: CSR over pyramid rows into
// the block_slots entries that name the row, in ascending entry order (slot_entries.h).
struct CudaSlotEntries {
  const std::int64_t* offset = nullptr;  // (slots + 1)
  const std::int64_t* entry = nullptr;   // (entries)
};

// Rows of the query tiles the kernels give a thread block (kTile in fma_tiles.cuh).
constexpr int kCudaQueryTile = 64;

// One backward call: the forward's inputs and lse, d_out (like out) and delta = rowsum(d_out
// * out) - d_lse (bh, n) float32. Writes every element of d_q, d_k, d_v (like q); adds the
// coarse-slot gradients into d_kc, d_vc (bh, slots, dim) float32, which the caller zeroes.
// The slots' gradients are sums over the query tiles that see them. With slot_partial
// (slot_partial_floats of them; required when `deterministic` and entries > 0), every query
// tile writes its partial sums there and a second kernel adds them up per slot in entry
// order, so every output is the same bit for bit run to run; without it, each tile adds its
// partials into d_kc, d_vc by float32 atomics, whose order (and so the last bits of d_kc,
// d_vc) varies.
struct FmaCudaGradParams {
  FmaCudaParams fwd;
  const void* d_out = nullptr;
  const float* delta = nullptr;
  void *d_q = nullptr, *d_k = nullptr, *d_v = nullptr;
  float *d_kc = nullptr, *d_vc = nullptr;
  bool deterministic = false;
  std::int64_t entries = 0;  // block_slots.offset[blocks]
  CudaSlotEntries slot_entries;
  float* slot_partial = nullptr;
};

// Floats of the backward's slot_partial: for d_kc then d_vc, per head, per block_slots entry
// and query tile of its block, dim partial sums.
constexpr std::int64_t slot_partial_floats(std::int64_t bh, std::int64_t entries, std::int64_t block_size, int dim) {
  return 2 * bh * entries * ((block_size + kCudaQueryTile - 1) / kCudaQueryTile) * dim;
}

CudaStatus fma_forward_cuda(const FmaCudaParams& params, void* stream);
CudaStatus fma_backward_cuda(const FmaCudaGradParams& params, void* stream);

// Every level of the coarse pyramid of one stream (§2), levels 1 .. levels of group width
// block_size 2^(l-1) over n_pad tokens: for every head, level l's group g, slot j (j < rank)
// goes to row base_l + g rank + j of out (bh, out rows, dim; heads out_stride apart), base_l
// the rows of the levels before; from the real tokens t < n of x (bh, n, dim; heads
// head_stride apart) in [g width, (g+1) width): learned: bias_l[j][c] + sum_t
// panels_l[t - g width][j][c] x[t][c] (panels_l (width, rank, dim), bias_l (rank, dim), both
// contiguous, dtype of x); average: the mean of sub-window j (width / rank tokens), 0 where it
// holds no real token. Two launches (downsample_kernel.cuh): chunks of `chunk` tokens (a
// block_size 2^a dividing n_pad) read once into every level, then the wider levels' partial
// sums, kept in `partial` (pyramid_workspace_floats of them, float32), are added up.
constexpr int kMaxPyramidLevels = 48;
struct PyramidCudaParams {
  CudaDtype dtype = CudaDtype::f32;
  int dim = 64;
  std::int64_t bh = 0, n = 0, head_stride = 0;
  std::int64_t rank = 1, block_size = 1, n_pad = 0, chunk = 1;
  int levels = 0;
  bool average = false;
  const void* x = nullptr;
  const void* panels[kMaxPyramidLevels] = {};
  const void* bias[kMaxPyramidLevels] = {};
  void* out = nullptr;
  std::int64_t out_stride = 0;
  float* partial = nullptr;
};

constexpr int kPyramidHeadTile = 8;  // heads per block of either pass

// The geometry both passes and the host share (constexpr: callable from device code too).
// Level l's group width, and its first output row.
constexpr std::int64_t pyramid_width(const PyramidCudaParams& p, int level) { return p.block_size << (level - 1); }
constexpr std::int64_t pyramid_base(const PyramidCudaParams& p, int level) {
  std::int64_t base = 0;
  for (int l = 1; l < level; ++l) base += (p.n_pad / pyramid_width(p, l)) * p.rank;
  return base;
}
// Levels 1 .. narrow have groups that fit in a chunk: pass 1 finishes them.
constexpr int pyramid_narrow_levels(const PyramidCudaParams& p) {
  int narrow = 0;
  while (narrow < p.levels && pyramid_width(p, narrow + 1) <= p.chunk) ++narrow;
  return narrow;
}
constexpr std::int64_t pyramid_chunks(const PyramidCudaParams& p) { return (p.n + p.chunk - 1) / p.chunk; }
constexpr std::int64_t pyramid_head_tiles(const PyramidCudaParams& p) {
  return (p.bh + kPyramidHeadTile - 1) / kPyramidHeadTile;
}
// Floats the workspace `partial` holds: every wide level's (chunk, head, slot, channel) sums.
constexpr std::int64_t pyramid_workspace_floats(const PyramidCudaParams& p) {
  return (p.levels - pyramid_narrow_levels(p)) * pyramid_chunks(p) * p.bh * p.rank * p.dim;
}
// The chunk for these sizes: block_size 2^a, at most 512 tokens and n_pad, the largest that
// still gives pass 1 about 512 blocks (or block_size when none does).
constexpr std::int64_t pyramid_chunk(std::int64_t n, std::int64_t n_pad, std::int64_t block_size, std::int64_t bh) {
  const std::int64_t head_tiles = (bh + kPyramidHeadTile - 1) / kPyramidHeadTile;
  std::int64_t chunk = block_size;
  while (chunk * 2 <= 512 && chunk * 2 <= n_pad && ((n + chunk * 2 - 1) / (chunk * 2)) * head_tiles >= 512) chunk *= 2;
  return chunk;
}

CudaStatus pyramid_cuda(const PyramidCudaParams& params, void* stream);

}  // namespace fmav
