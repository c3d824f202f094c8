// Launches the fused FMA-1D backward, its dQ pass then its dK dV pass
// (fma_backward_kernels.cuh), for fma_cuda.h.

#include "fma_backward_kernels.cuh"
#include "fma_launch.cuh"

namespace fmav {
namespace {

struct LaunchBackward {
  const FmaCudaGradParams& g;
  cudaStream_t stream;
  template <typename T, int D>
  CudaStatus run() const {
    const FmaCudaParams& p = g.fwd;
    const dim3 grid(static_cast<unsigned>(ceil_div(p.n, p.block_size) * tiles_per_block(p.block_size)),
                    static_cast<unsigned>(p.bh));
    constexpr std::size_t dq_bytes = dq_shared_bytes<T, D>(), dkv_bytes = dkv_shared_bytes<T, D>();
    FMAV_CUDA_CHECK(cudaFuncSetAttribute(fma_backward_dq_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(dq_bytes)));
    fma_backward_dq_kernel<T, D><<<grid, kThreads, dq_bytes, stream>>>(g);
    if (CudaStatus status = launch_status()) return status;
    FMAV_CUDA_CHECK(cudaFuncSetAttribute(fma_backward_dkv_kernel<T, D>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(dkv_bytes)));
    fma_backward_dkv_kernel<T, D><<<grid, kThreads, dkv_bytes, stream>>>(g);
    return launch_status();
  }
};

}  // namespace

CudaStatus fma_backward_cuda(const FmaCudaGradParams& params, void* stream) {
  if (params.fwd.n == 0 || params.fwd.bh == 0) return nullptr;
  return dispatch_dtype_dim(params.fwd.dtype, params.fwd.dim,
                            LaunchBackward{params, static_cast<cudaStream_t>(stream)});
}

}  // namespace fmav
