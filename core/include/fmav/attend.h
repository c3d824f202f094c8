#pragma once
// Attention on host tensors: FMA in its four variants (FMA-1D, FMA-linear, FMA2D,
// FMA2D-linear; reference, blocked or fused), full attention (math or LibTorch's SDPA) and
// the paper's peers (H-Transformer-1D, Linear Transformer, Reformer, local and Swin windows),
// chosen by AttendOptions (fmav/method.h). The entry point of `fmav attend`; no LibTorch in
// this header.

#include <cstdint>
#include <map>
#include <string>

#include "fmav/method.h"
#include "fmav/tensor.h"

namespace fmav {

// Down-sampling weights by name, for l = 1..L and each summarized stream s: k and v, and q
// for the linear variants (§3). Output channel c*p + j is summary j of channel c; float32
// or float64. 1D (§2): level{l}.{s}.weight, learned (p*D, 1, w_l) or dense (p*D, D, w_l),
// and level{l}.{s}.bias (p*D). 2D (§4): level{l}.{s}.row.weight and level{l}.{s}.col.weight,
// both (p*D, 1, c_l) with c_l = r 2^(l-1), and level{l}.{s}.bias (p*D).
using WeightSet = std::map<std::string, HostTensor>;

// Weights for levels 1..num_levels drawn from `seed` like PyTorch's Conv1d default
// (uniform in +-1/sqrt(fan_in); 2D row and column kernels +-1/sqrt(c) each), in float32: k, v
// of every level, then q, so FMA and FMA-linear share K and V weights for one seed.
// learned and dense only; average has none.
WeightSet random_downsample_weights(const FmaConfig& config, std::int64_t dim, int num_levels,
                                    std::uint64_t seed);

// Attention of q, k, v shaped (B, H, N, D), (H, N, D) or (N, D), all the same shape and
// dtype (float32 or float64; on CUDA float32). Returns the output with the input's shape
// and dtype, on the host.
// learned/dense FMA needs weights for every level the (padded) N has; extra levels are
// ignored. Throws fmav::Error naming the bad argument.
HostTensor attend(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                  const AttendOptions& options, const WeightSet& weights);

// One head of x, shaped (B, H, N, D), (H, N, D) or (N, D), as a (1, 1, N, D) copy in dtype
// (float32 or float64). Throws fmav::Error for a bad shape, batch, head or dtype.
HostTensor head_of(const HostTensor& x, std::int64_t batch, std::int64_t head, DType dtype);

}  // namespace fmav
