// Launches the pyramid's down-sampling kernel (downsample_kernel.cuh) for fma_cuda.h.

#include "downsample_kernel.cuh"
#include "fma_launch.cuh"

namespace fmav {
namespace {

template <typename T>
CudaStatus launch_downsample(const DownsampleCudaParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(p.groups * p.rank), static_cast<unsigned>(p.bh));
  downsample_kernel<T><<<grid, p.dim, 0, stream>>>(p);
  return launch_status();
}

}  // namespace

CudaStatus downsample_cuda(const DownsampleCudaParams& params, void* stream) {
  if (params.groups == 0 || params.bh == 0) return nullptr;
  const auto s = static_cast<cudaStream_t>(stream);
  switch (params.dtype) {
    case CudaDtype::f32: return launch_downsample<float>(params, s);
    case CudaDtype::f16: return launch_downsample<__half>(params, s);
    case CudaDtype::bf16: return launch_downsample<__nv_bfloat16>(params, s);
  }
  return "unknown dtype";
}

}  // namespace fmav
