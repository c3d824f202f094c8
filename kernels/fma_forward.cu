// Launches the fused FMA-1D forward (fma_forward_kernel.cuh) for fma_cuda.h.

#include "fma_forward_kernel.cuh"
#include "fma_launch.cuh"

namespace fmav {
namespace {

struct LaunchForward {
  const FmaCudaParams& p;
  cudaStream_t stream;
  template <typename T, int D>
  CudaStatus run() const {
    constexpr std::size_t bytes = forward_shared_bytes<T, D>();
    FMAV_CUDA_CHECK(cudaFuncSetAttribute(fma_forward_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(bytes)));
    const dim3 grid(static_cast<unsigned>(ceil_div(p.n, p.block_size) * tiles_per_block(p.block_size)),
                    static_cast<unsigned>(p.bh));
    fma_forward_kernel<T, D><<<grid, kThreads, bytes, stream>>>(p);
    return launch_status();
  }
};

}  // namespace

CudaStatus fma_forward_cuda(const FmaCudaParams& params, void* stream) {
  if (params.n == 0 || params.bh == 0) return nullptr;
  return dispatch_dtype_dim(params.dtype, params.dim, LaunchForward{params, static_cast<cudaStream_t>(stream)});
}

}  // namespace fmav
