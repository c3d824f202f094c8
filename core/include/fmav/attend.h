#pragma once
// Attention on host tensors: FMA in its four variants (FMA-1D, FMA-linear, FMA2D,
// FMA2D-linear; reference, blocked or fused) and full attention (math or LibTorch's SDPA).
// The entry point of `fmav attend`; no LibTorch in this header.

#include <cstdint>
#include <map>
#include <string>

#include "fmav/fma.h"
#include "fmav/tensor.h"

namespace fmav {

// Down-sampling weights by name, for l = 1..L and each summarized stream s: k and v, and q
// for the linear variants (§3). Output channel c*p + j is summary j of channel c; float32
// or float64. 1D (§2): level{l}.{s}.weight, learned (p*D, 1, w_l) or dense (p*D, D, w_l),
// and level{l}.{s}.bias (p*D). 2D (§4): level{l}.{s}.row.weight and level{l}.{s}.col.weight,
// both (p*D, 1, c_l) with c_l = r 2^(l-1), and level{l}.{s}.bias (p*D).
using WeightSet = std::map<std::string, HostTensor>;

// fma covers the four variants; which one is said by AttendOptions::fma (linear, grid).
enum class Method { fma, full };
// fma: reference | blocked | fused (1D: FMA-1D, and FMA-linear with the fused near field).
// full: math | sdpa. auto: fused in 1D, blocked in 2D, sdpa for full attention.
enum class Impl { automatic, reference, blocked, fused, math, sdpa };

const char* to_string(Impl impl);
Impl parse_impl(const std::string& name);      // "auto" | "reference" | ...; throws

struct AttendOptions {
  Method method = Method::fma;
  Impl impl = Impl::automatic;
  FmaConfig fma;  // for full attention only fma.causal is read
};

// The method's name: "full", or the FMA variant's ("fma", "fma-linear", "fma2d", "fma2d-linear").
const char* method_name(const AttendOptions& options);
// Sets options->method, fma.linear and the grid from a method name ("fma" | "fma-linear" |
// "fma2d" | "fma2d-linear" | "full") and a grid "HxW", which the 2D variants need and the
// others refuse (empty = none). Throws fmav::Error naming the bad name or grid.
void parse_method(const std::string& name, const std::string& grid, AttendOptions* options);

// Weights for levels 1..num_levels drawn from `seed` like PyTorch's Conv1d default
// (uniform in +-1/sqrt(fan_in); 2D row and column kernels +-1/sqrt(c) each), in float32: k, v
// of every level, then q, so FMA and FMA-linear share K and V weights for one seed.
// learned and dense only; average has none.
WeightSet random_downsample_weights(const FmaConfig& config, std::int64_t dim, int num_levels,
                                    std::uint64_t seed);

// Attention of q, k, v shaped (B, H, N, D), (H, N, D) or (N, D), all the same shape and
// dtype (float32 or float64). Returns the output with the input's shape and dtype.
// learned/dense FMA needs weights for every level the (padded) N has; extra levels are
// ignored. Throws fmav::Error naming the bad argument.
HostTensor attend(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                  const AttendOptions& options, const WeightSet& weights);

// One head of x, shaped (B, H, N, D), (H, N, D) or (N, D), as a (1, 1, N, D) copy in dtype
// (float32 or float64). Throws fmav::Error for a bad shape, batch, head or dtype.
HostTensor head_of(const HostTensor& x, std::int64_t batch, std::int64_t head, DType dtype);

}  // namespace fmav
