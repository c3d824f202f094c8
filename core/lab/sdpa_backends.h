#pragma once
// SDPA forced onto one of its backends, for `fmav bench`'s rows sdpa-flash, sdpa-efficient,
// sdpa-cudnn and sdpa-math (docs/BENCHMARKS.md).

#include <ATen/core/Tensor.h>

#include <string>

#include "fmav/error.h"

namespace fmav {

// Thrown when a forced backend does not take the inputs (flash and cuDNN want float16 or
// bfloat16, for one), with LibTorch's reasons.
class SdpaBackendUnavailable : public Error {
 public:
  using Error::Error;
};

// SDPA of (B, H, N, D) q, k, v on `backend`: "" for LibTorch's own choice, or "flash",
// "efficient", "cudnn", "math". The backend switches are process-wide while it runs: an SDPA
// on another thread meanwhile gets the same choice. Throws SdpaBackendUnavailable.
at::Tensor sdpa_on(const std::string& backend, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                   bool causal);

}  // namespace fmav
