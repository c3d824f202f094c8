#pragma once
// The index arithmetic of the fused CUDA kernels, compiled for host and device: the near
// keys a query tile streams and the queries whose near field holds a key tile (docs/DESIGN.md §2).
// test_cuda checks both against the level geometry on the host, where no GPU is needed.

#include <cstdint>

#ifdef __CUDACC__
#define FMAV_HOST_DEVICE __host__ __device__
#else
#define FMAV_HOST_DEVICE
#endif

namespace fmav {

struct IndexRange {
  std::int64_t lo = 0, hi = 0;  // [lo, hi)
};

// Near-field keys of the query rows [row0, row0 + rows) of query block b (block size m, n
// tokens): blocks b-1, b, b+1, clipped; causal b-1 and b, up to the last row (the kernels
// mask keys after each row's own position).
FMAV_HOST_DEVICE inline IndexRange near_keys(std::int64_t b, std::int64_t row0, std::int64_t rows, std::int64_t m,
                                             std::int64_t n, bool causal) {
  IndexRange r;
  r.lo = b > 0 ? (b - 1) * m : 0;
  const std::int64_t end = (causal ? b + 1 : b + 2) * m;
  r.hi = end < n ? end : n;
  if (causal && row0 + rows < r.hi) r.hi = row0 + rows;
  return r;
}

// Queries whose near field holds keys [key0, ...) of key block j: query blocks j-1, j, j+1
// (causal: j from key0 on, and j+1), clipped to n; causal rows before a key are masked by
// the kernels.
FMAV_HOST_DEVICE inline IndexRange near_queries(std::int64_t j, std::int64_t key0, std::int64_t m, std::int64_t n,
                                                bool causal) {
  IndexRange r;
  r.lo = causal ? key0 : (j > 0 ? (j - 1) * m : 0);
  const std::int64_t end = (j + 2) * m;
  r.hi = end < n ? end : n;
  return r;
}

}  // namespace fmav
