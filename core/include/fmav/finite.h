#pragma once
// Non-finite values (NaN, +Inf, -Inf) in tensors the user hands in, weights and activations:
// found by one scan, refused with the tensor's name, the counts and the first position
// (docs/HARDENING.md), unless the process was told to let them through for study
// (--allow-nonfinite of fmav and fma-viewer).

#include <cstdint>
#include <string>
#include <vector>

#include "fmav/tensor.h"

namespace fmav {

// What a scan found.
struct NonFinite {
  std::int64_t nan = 0, pos_inf = 0, neg_inf = 0;
  std::vector<std::int64_t> first;  // index tuple of the first non-finite element; empty if none

  std::int64_t inf() const { return pos_inf + neg_inf; }
  std::int64_t count() const { return nan + inf(); }
  bool any() const { return count() > 0; }
};

// Counts NaN, +Inf and -Inf in a float32, float64, float16 or bfloat16 tensor (integer dtypes
// hold none) and finds the first one in C order.
NonFinite scan_finite(const HostTensor& tensor);
// The same over elements not held by a HostTensor (a mapped file's bytes, any alignment).
NonFinite scan_finite(DType dtype, const std::vector<std::int64_t>& shape, const std::uint8_t* data);

// "<name> holds 1 NaN and 0 Inf values; the first at [0, 3, 17]" (Inf split into +/- when
// there are any); `name` says which tensor, e.g. "q (q.npy)".
std::string nonfinite_summary(const NonFinite& found, const std::string& name);

// Whether non-finite values are let through (process-wide, default false; set once from
// --allow-nonfinite, or from the viewer's checkbox). Thread-safe.
void set_allow_nonfinite(bool allow);
bool nonfinite_allowed();

// Scans `tensor`; when it holds non-finite values and they are not allowed, throws
// fmav::Error with nonfinite_summary and how to let them through. Returns what it found.
NonFinite check_finite(const HostTensor& tensor, const std::string& name);
NonFinite check_finite(DType dtype, const std::vector<std::int64_t>& shape, const std::uint8_t* data,
                       const std::string& name);

}  // namespace fmav
