// Launches the fused FMA-1D forward for fma_cuda.h: the FlashAttention-2-class kernel
// (fma_forward_fa2_kernel.cuh) where it takes the dtype and D, else fma_forward_kernel.cuh.

#include "fma_forward_fa2_kernel.cuh"
#include "fma_forward_kernel.cuh"
#include "fma_launch.cuh"

#include <cstdlib>
#include <cstring>

namespace fmav {
namespace {

// FMAV_FORWARD_KERNEL=wmma sends every shape to fma_forward_kernel, so one GPU run can time
// both kernels (scripts/gpu_check.sh); read once.
bool wmma_forced() {
  static const bool forced = [] {
    const char* v = std::getenv("FMAV_FORWARD_KERNEL");
    return v != nullptr && std::strcmp(v, "wmma") == 0;
  }();
  return forced;
}

struct LaunchForward {
  const FmaCudaParams& p;
  cudaStream_t stream;
  template <typename T, int D>
  CudaStatus run() const {
    if constexpr (kFa2ForwardTakes<T, D>) {
      if (!wmma_forced()) return run_fa2<T, D>();
    }
    return run_wmma<T, D>();
  }
  dim3 grid() const {
    return dim3(static_cast<unsigned>(ceil_div(p.n, p.block_size) * tiles_per_block(p.block_size)),
                static_cast<unsigned>(p.bh));
  }
  template <typename T, int D>
  CudaStatus run_fa2() const {
    constexpr std::size_t bytes = fa2_forward_shared_bytes<T, D>();
    FMAV_CUDA_CHECK(cudaFuncSetAttribute(fma_forward_fa2_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(bytes)));
    fma_forward_fa2_kernel<T, D><<<grid(), kThreads, bytes, stream>>>(p);
    return launch_status();
  }
  template <typename T, int D>
  CudaStatus run_wmma() const {
    constexpr std::size_t bytes = forward_shared_bytes<T, D>();
    FMAV_CUDA_CHECK(cudaFuncSetAttribute(fma_forward_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(bytes)));
    fma_forward_kernel<T, D><<<grid(), kThreads, bytes, stream>>>(p);
    return launch_status();
  }
};

}  // namespace

CudaStatus fma_forward_cuda(const FmaCudaParams& params, void* stream) {
  if (params.n == 0 || params.bh == 0) return nullptr;
  return dispatch_dtype_dim(params.dtype, params.dim, LaunchForward{params, static_cast<cudaStream_t>(stream)});
}

}  // namespace fmav
