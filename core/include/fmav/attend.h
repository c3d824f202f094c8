#pragma once
// Attention on host tensors: FMA-1D (reference or blocked) and full attention (math or
// LibTorch's SDPA). The entry point of `fmav attend`; no LibTorch in this header.

#include <cstdint>
#include <map>
#include <string>

#include "fmav/fma.h"
#include "fmav/tensor.h"

namespace fmav {

// Down-sampling weights by name (§2): level{l}.k.weight, level{l}.k.bias, level{l}.v.weight,
// level{l}.v.bias for l = 1..L. learned: weight (p*D, 1, w_l); dense: weight (p*D, D, w_l);
// bias (p*D); output channel c*p + j is summary j of channel c. float32 or float64.
using WeightSet = std::map<std::string, HostTensor>;

enum class Method { fma, full };
// fma: reference | blocked | fused. full: math | sdpa. auto: fused for fma, sdpa for full.
enum class Impl { automatic, reference, blocked, fused, math, sdpa };

const char* to_string(Method method);
const char* to_string(Impl impl);
Method parse_method(const std::string& name);  // throws fmav::Error
Impl parse_impl(const std::string& name);      // "auto" | "reference" | ...; throws

struct AttendOptions {
  Method method = Method::fma;
  Impl impl = Impl::automatic;
  FmaConfig fma;  // for full attention only fma.causal is read
};

// Weights for levels 1..num_levels drawn from `seed` like PyTorch's Conv1d default
// (uniform in +-1/sqrt(fan_in)), in float32. learned and dense only; average has none.
WeightSet random_downsample_weights(const FmaConfig& config, std::int64_t dim, int num_levels,
                                    std::uint64_t seed);

// Attention of q, k, v shaped (B, H, N, D), (H, N, D) or (N, D), all the same shape and
// dtype (float32 or float64). Returns the output with the input's shape and dtype.
// learned/dense FMA needs weights for every level the (padded) N has; extra levels are
// ignored. Throws fmav::Error naming the bad argument.
HostTensor attend(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                  const AttendOptions& options, const WeightSet& weights);

}  // namespace fmav
