#pragma once
// Host side of the launchers (the .cu files): CUDA errors as CudaStatus, and the dtype and
// head-dimension switch that picks a kernel instantiation.

#include "fma_tiles.cuh"

namespace fmav {

#define FMAV_CUDA_CHECK(call)                         \
  do {                                                \
    const cudaError_t fmav_err_ = (call);             \
    if (fmav_err_ != cudaSuccess) return cudaGetErrorString(fmav_err_); \
  } while (0)

inline CudaStatus launch_status() {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? nullptr : cudaGetErrorString(err);
}

// Runs f.template run<T, D>() for the call's dtype and head dimension (checked by the
// dispatch before; anything else is reported, not launched).
template <typename F>
CudaStatus dispatch_dtype_dim(CudaDtype dtype, int dim, const F& f) {
  const auto by_dim = [&](auto tag) -> CudaStatus {
    using T = decltype(tag);
    switch (dim) {
      case 32: return f.template run<T, 32>();
      case 64: return f.template run<T, 64>();
      case 128: return f.template run<T, 128>();
      default: return "head dimension not compiled (32, 64, 128)";
    }
  };
  switch (dtype) {
    case CudaDtype::f32: return by_dim(float{});
    case CudaDtype::f16: return by_dim(__half{});
    case CudaDtype::bf16: return by_dim(__nv_bfloat16{});
  }
  return "unknown dtype";
}

}  // namespace fmav
