#pragma once
// The coarse pyramid's down-sampling on CUDA (fma_cuda.h, docs/DESIGN.md §2): one thread per
// (head, slot, channel), summing its group's real tokens in float32. The learned weights come
// as token panels (width, rank, dim), so the threads of a slot read consecutive channels.
// Compiled by nvcc through the .cu launcher, and for the host by the emulated-kernel tests
// (tests/cuda_emulation.h).

#include "fma_tiles.cuh"

namespace fmav {

template <typename T>
__global__ void downsample_kernel(const DownsampleCudaParams p) {
  const std::int64_t slot = blockIdx.x, g = slot / p.rank, j = slot % p.rank;
  const std::int64_t bh = blockIdx.y;
  const int c = threadIdx.x;
  const T* x = static_cast<const T*>(p.x) + bh * p.head_stride;
  float acc = 0.0f;
  if (p.average) {
    const std::int64_t sub = p.width / p.rank, lo = g * p.width + j * sub, hi = min(lo + sub, p.n);
    for (std::int64_t t = lo; t < hi; ++t) acc += to_float(x[t * p.dim + c]);
    acc = hi > lo ? acc / static_cast<float>(hi - lo) : 0.0f;
  } else {
    const T* panels = static_cast<const T*>(p.panels);
    acc = to_float(static_cast<const T*>(p.bias)[j * p.dim + c]);
    const std::int64_t t0 = g * p.width, count = min(p.width, p.n - t0);
    for (std::int64_t t = 0; t < count; ++t) {
      acc += to_float(panels[(t * p.rank + j) * p.dim + c]) * to_float(x[(t0 + t) * p.dim + c]);
    }
  }
  static_cast<T*>(p.out)[bh * p.out_stride + (p.row0 + slot) * p.dim + c] = from_float<T>(acc);
}

}  // namespace fmav
