#pragma once
// A small synthetic attention input made by the project (no downloads): queries and keys
// built from sinusoidal positions plus noise, so attention is mostly local with a few
// long-range keys, which makes the hierarchy's levels visible in the maps.

#include <cstdint>

#include "fmav/tensor.h"

namespace fmav {

struct SampleQkv {
  HostTensor q, k, v;  // each (1, 1, n, d) float32
};

// Deterministic for a given (n, d, seed). Throws fmav::Error for n < 1 or d < 2.
SampleQkv sample_qkv(std::int64_t n, std::int64_t d, std::uint64_t seed);

}  // namespace fmav
