#pragma once
// Non-finite values in what the viewer compares (fmav/finite.h, issue 21.2): q, k and v of a
// file or of a model's layer are refused naming the tensor, the counts and the first position,
// unless let through (--allow-nonfinite, the sidebar's checkbox); metrics over them read
// "undefined", never the 0 / 1 that comparing NaN with NaN gives.

#include "map_params.h"

#include "fmav/tensor.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fmav::viewer {

// What q, k and v are called in messages: their files ("q (q.npy)"), the model's layer they
// were captured from ("q of layer 3 (lm-fma on sample.txt)"), or the synthetic input.
std::array<std::string, 3> qkv_names(const MapParams& params, int layer);

// check_finite on q, k and v under `names`: throws fmav::Error for the first that holds NaN or
// Inf unless those are allowed; returns what was let through, the summaries joined by "; "
// ("" when all are finite).
std::string check_qkv_finite(const HostTensor& q, const HostTensor& k, const HostTensor& v,
                             const std::array<std::string, 3>& names);

// The mean of a per-row metric as `fmt` (printf, one double) writes it, or
// "undefined (N non-finite rows)" when any row's value is NaN or Inf.
std::string mean_text(const char* fmt, const std::vector<double>& rows);
// One value as `fmt` writes it, or "undefined" when it is NaN or Inf.
std::string value_text(const char* fmt, double value);
// The level map's mass per level (levels + 1 values, fractions): the mean over the rows whose
// masses are finite; *finite_rows counts them.
std::vector<double> mean_level_mass(const std::vector<double>& level_mass, std::int64_t rows, int levels,
                                    std::int64_t* finite_rows);

}  // namespace fmav::viewer
