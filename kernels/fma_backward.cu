// Launches the fused FMA-1D backward for fma_cuda.h: the FlashAttention-2-class dK dV and dQ
// kernels (fma_backward_fa2_kernels.cuh) where they take the dtype and D, else the WMMA pair
// (fma_backward_kernels.cuh); then, where the coarse slots' partial gradients went to the
// workspace, their fixed-order sum (slot_grad_reduce_kernel.cuh).

#include "fma_backward_fa2_kernels.cuh"
#include "fma_backward_kernels.cuh"
#include "fma_launch.cuh"

#include <cstdlib>
#include <cstring>

namespace fmav {
namespace {

// FMAV_BACKWARD_KERNEL=wmma sends every shape to the WMMA pair, so one GPU run can time both
// (scripts/gpu_check.sh); read once.
bool wmma_forced() {
  static const bool forced = [] {
    const char* v = std::getenv("FMAV_BACKWARD_KERNEL");
    return v != nullptr && std::strcmp(v, "wmma") == 0;
  }();
  return forced;
}

template <typename Kernel>
CudaStatus launch(Kernel kernel, dim3 grid, std::size_t bytes, cudaStream_t stream, const FmaCudaGradParams& g) {
  FMAV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
  kernel<<<grid, kThreads, bytes, stream>>>(g);
  return launch_status();
}

struct LaunchBackward {
  const FmaCudaGradParams& g;
  cudaStream_t stream;
  template <typename T, int D>
  CudaStatus run() const {
    if (CudaStatus s = run_passes<T, D>()) return s;
    if (g.slot_partial == nullptr || g.fwd.slots == 0) return nullptr;
    const dim3 grid(static_cast<unsigned>(g.fwd.slots), static_cast<unsigned>(g.fwd.bh));
    slot_grad_reduce_kernel<D><<<grid, D, 0, stream>>>(g);
    return launch_status();
  }
  template <typename T, int D>
  CudaStatus run_passes() const {
    const FmaCudaParams& p = g.fwd;
    const dim3 grid(static_cast<unsigned>(ceil_div(p.n, p.block_size) * tiles_per_block(p.block_size)),
                    static_cast<unsigned>(p.bh));
    if constexpr (kFa2BackwardTakes<T, D>) {
      if (!wmma_forced()) {
        if (CudaStatus s = launch(fma_backward_fa2_dq_kernel<T, D>, grid, fa2_dq_shared_bytes<T, D>(), stream, g)) {
          return s;
        }
        return launch(fma_backward_fa2_dkv_kernel<T, D>, grid, fa2_dkv_shared_bytes<T, D>(), stream, g);
      }
    }
    if (CudaStatus s = launch(fma_backward_dq_kernel<T, D>, grid, dq_shared_bytes<T, D>(), stream, g)) return s;
    return launch(fma_backward_dkv_kernel<T, D>, grid, dkv_shared_bytes<T, D>(), stream, g);
  }
};

}  // namespace

CudaStatus fma_backward_cuda(const FmaCudaGradParams& params, void* stream) {
  if (params.fwd.n == 0 || params.fwd.bh == 0) return nullptr;
  if (params.deterministic && params.entries > 0 && params.slot_partial == nullptr) {
    return "a deterministic backward needs slot_partial";
  }
  return dispatch_dtype_dim(params.fwd.dtype, params.fwd.dim,
                            LaunchBackward{params, static_cast<cudaStream_t>(stream)});
}

}  // namespace fmav
