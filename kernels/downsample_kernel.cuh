#pragma once
// The coarse pyramid's down-sampling on CUDA (fma_cuda.h, docs/DESIGN.md §2, docs/CUDA.md),
// every level of one stream in two launches:
//   pass 1, one block per (chunk of tokens, tile of heads): the chunk's tokens are read once
//     and added into every level: a level whose groups fit in the chunk is finished there
//     (bias added, or the mean taken); a wider one gets this chunk's partial sum, in float32,
//     in the workspace;
//   pass 2, one block per (level, group, tile of heads): a wide level's group sums its chunks'
//     partials; groups past the last chunk (all padding) get the bias, or 0.
// One thread per channel; each thread keeps kPyramidHeadTile x kPyramidSlotTile sums in
// registers, so one weight load serves every head of the tile and one token load every slot
// of the sweep. Each token is fetched by one block, level after level while the chunk is in
// cache, where the per-level kernel before fetched it once per level and slot, and each
// weight once per head. Compiled by nvcc through the .cu launcher,
// and for the host by the emulated-kernel tests (tests/kernels/cuda_emulation.h).

#include "fma_tiles.cuh"

namespace fmav {

constexpr int kPyramidSlotTile = 4;  // slots summed per sweep over the tokens

// The sums of slots j0 .. j0 + kSlotTile - 1 (those < rank) of the group starting at token
// g0, over its real tokens in [lo, hi), for the tile's heads: learned weights by token panel,
// average by sub-window membership.
template <typename T>
__device__ inline void pyramid_sums(const PyramidCudaParams& p, int level, std::int64_t g0, std::int64_t lo,
                                    std::int64_t hi, std::int64_t h0, int heads, std::int64_t j0, int c,
                                    float (&acc)[kPyramidHeadTile][kPyramidSlotTile]) {
  const T* x = static_cast<const T*>(p.x);
  const T* panels = static_cast<const T*>(p.panels[level - 1]);
  const std::int64_t width = pyramid_width(p, level), sub = width / p.rank;
  // Compile-time trip counts only, so acc and xv stay in registers.
#pragma unroll
  for (int h = 0; h < kPyramidHeadTile; ++h) {
#pragma unroll
    for (int s = 0; s < kPyramidSlotTile; ++s) acc[h][s] = 0.0f;
  }
  for (std::int64_t t = lo; t < hi; ++t) {
    float xv[kPyramidHeadTile];
#pragma unroll
    for (int h = 0; h < kPyramidHeadTile; ++h) {
      xv[h] = h < heads ? to_float(x[(h0 + h) * p.head_stride + t * p.dim + c]) : 0.0f;
    }
#pragma unroll
    for (int s = 0; s < kPyramidSlotTile; ++s) {
      const std::int64_t j = j0 + s;
      float w = 0.0f;
      if (j < p.rank) {
        w = p.average ? ((t - g0) / sub == j ? 1.0f : 0.0f) : to_float(panels[((t - g0) * p.rank + j) * p.dim + c]);
      }
#pragma unroll
      for (int h = 0; h < kPyramidHeadTile; ++h) acc[h][s] += w * xv[h];
    }
  }
}

// A finished slot's value from its sum: + bias (learned) or / real tokens of its sub-window
// (average; 0 where it has none).
template <typename T>
__device__ inline float pyramid_finish(const PyramidCudaParams& p, int level, std::int64_t g0, std::int64_t j, int c,
                                       float sum) {
  if (p.average) {
    const std::int64_t sub = pyramid_width(p, level) / p.rank, lo = g0 + j * sub;
    const std::int64_t real = min(lo + sub, p.n) - lo;
    return real > 0 ? sum / static_cast<float>(real) : 0.0f;
  }
  return sum + to_float(static_cast<const T*>(p.bias[level - 1])[j * p.dim + c]);
}

template <typename T>
__device__ inline void pyramid_store(const PyramidCudaParams& p, int level, std::int64_t g, std::int64_t bh,
                                     std::int64_t j, int c, float value) {
  static_cast<T*>(p.out)[bh * p.out_stride + (pyramid_base(p, level) + g * p.rank + j) * p.dim + c] =
      from_float<T>(value);
}

template <typename T>
__global__ void pyramid_chunk_kernel(const PyramidCudaParams p) {
  const std::int64_t chunk = blockIdx.x, h0 = static_cast<std::int64_t>(blockIdx.y) * kPyramidHeadTile;
  const int heads = static_cast<int>(min(static_cast<std::int64_t>(kPyramidHeadTile), p.bh - h0));
  const int c = threadIdx.x;
  const std::int64_t t0 = chunk * p.chunk, t1 = min(t0 + p.chunk, p.n);
  const int narrow = pyramid_narrow_levels(p);
  float acc[kPyramidHeadTile][kPyramidSlotTile];
  for (int level = 1; level <= p.levels; ++level) {
    const std::int64_t width = pyramid_width(p, level);
    for (std::int64_t j0 = 0; j0 < p.rank; j0 += kPyramidSlotTile) {
      if (level <= narrow) {
        // Every group inside the chunk, padding groups included (their sums are empty).
        for (std::int64_t g0 = t0; g0 < t0 + p.chunk; g0 += width) {
          pyramid_sums<T>(p, level, g0, g0, min(g0 + width, p.n), h0, heads, j0, c, acc);
#pragma unroll
          for (int h = 0; h < kPyramidHeadTile; ++h) {
#pragma unroll
            for (int s = 0; s < kPyramidSlotTile; ++s) {
              if (h >= heads || j0 + s >= p.rank) continue;
              pyramid_store<T>(p, level, g0 / width, h0 + h, j0 + s, c,
                               pyramid_finish<T>(p, level, g0, j0 + s, c, acc[h][s]));
            }
          }
        }
      } else {
        const std::int64_t g0 = t0 / width * width;
        pyramid_sums<T>(p, level, g0, t0, t1, h0, heads, j0, c, acc);
        float* partial = p.partial + ((static_cast<std::int64_t>(level - narrow - 1) * pyramid_chunks(p) + chunk) * p.bh) *
                                         p.rank * p.dim;
#pragma unroll
        for (int h = 0; h < kPyramidHeadTile; ++h) {
#pragma unroll
          for (int s = 0; s < kPyramidSlotTile; ++s) {
            if (h < heads && j0 + s < p.rank) partial[((h0 + h) * p.rank + j0 + s) * p.dim + c] = acc[h][s];
          }
        }
      }
    }
  }
}

template <typename T>
__global__ void pyramid_reduce_kernel(const PyramidCudaParams p) {
  // This block's level and group: blocks enumerate level 1's groups, then level 2's, ...
  std::int64_t index = blockIdx.x;
  int level = 1;
  while (index >= p.n_pad / pyramid_width(p, level)) index -= p.n_pad / pyramid_width(p, level++);
  const std::int64_t g = index, width = pyramid_width(p, level), g0 = g * width;
  const std::int64_t h0 = static_cast<std::int64_t>(blockIdx.y) * kPyramidHeadTile;
  const int heads = static_cast<int>(min(static_cast<std::int64_t>(kPyramidHeadTile), p.bh - h0));
  const int c = threadIdx.x, narrow = pyramid_narrow_levels(p);
  const std::int64_t chunks = pyramid_chunks(p);
  if (level <= narrow && g0 < chunks * p.chunk) return;  // finished by pass 1
  const std::int64_t first = g0 / p.chunk, last = min((g0 + width) / p.chunk, chunks);  // chunks [first, last)
  for (int h = 0; h < heads; ++h) {
    for (std::int64_t j = 0; j < p.rank; ++j) {
      float sum = 0.0f;
      if (level > narrow) {
        for (std::int64_t ch = first; ch < last; ++ch) {
          sum += p.partial[(((static_cast<std::int64_t>(level - narrow - 1) * chunks + ch) * p.bh + h0 + h) * p.rank + j) *
                               p.dim +
                           c];
        }
      }
      pyramid_store<T>(p, level, g, h0 + h, j, c, pyramid_finish<T>(p, level, g0, j, c, sum));
    }
  }
}

}  // namespace fmav
