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

// One backward call: the forward's inputs and lse, d_out (like out) and delta = rowsum(d_out
// * out) - d_lse (bh, n) float32. Writes every element of d_q, d_k, d_v (like q); adds the
// coarse-slot gradients into d_kc, d_vc (bh, slots, dim) float32, which the caller zeroes.
struct FmaCudaGradParams {
  FmaCudaParams fwd;
  const void* d_out = nullptr;
  const float* delta = nullptr;
  void *d_q = nullptr, *d_k = nullptr, *d_v = nullptr;
  float *d_kc = nullptr, *d_vc = nullptr;
};

CudaStatus fma_forward_cuda(const FmaCudaParams& params, void* stream);
CudaStatus fma_backward_cuda(const FmaCudaGradParams& params, void* stream);

// One level of the coarse pyramid of one stream (§2): for every head and group g < groups,
// rows row0 + g rank + j (j < rank) of out (bh, out rows, dim; heads out_stride apart) from
// the real tokens t < n of x (bh, n, dim; heads head_stride apart) in [g width, (g+1) width):
// learned: bias[j][c] + sum_t panels[t][j][c] x[t][c] (panels (width, rank, dim), bias
// (rank, dim), both contiguous, dtype of x); average: the mean of sub-window j (width / rank
// tokens), 0 where it holds no real token.
struct DownsampleCudaParams {
  CudaDtype dtype = CudaDtype::f32;
  int dim = 64;
  std::int64_t bh = 0, n = 0, head_stride = 0;
  std::int64_t rank = 1, width = 1, groups = 0;
  bool average = false;
  const void* x = nullptr;
  const void* panels = nullptr;
  const void* bias = nullptr;
  void* out = nullptr;
  std::int64_t out_stride = 0, row0 = 0;
};

CudaStatus downsample_cuda(const DownsampleCudaParams& params, void* stream);

}  // namespace fmav
