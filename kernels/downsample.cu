// Launches the pyramid's two down-sampling passes (downsample_kernel.cuh) for fma_cuda.h.

#include "downsample_kernel.cuh"
#include "fma_launch.cuh"

namespace fmav {
namespace {

template <typename T>
CudaStatus launch_pyramid(const PyramidCudaParams& p, cudaStream_t stream) {
  const auto tiles = static_cast<unsigned>(pyramid_head_tiles(p));
  pyramid_chunk_kernel<T><<<dim3(static_cast<unsigned>(pyramid_chunks(p)), tiles), p.dim, 0, stream>>>(p);
  FMAV_CUDA_CHECK(cudaGetLastError());
  const auto groups = static_cast<unsigned>(pyramid_base(p, p.levels + 1) / p.rank);  // every level's groups
  pyramid_reduce_kernel<T><<<dim3(groups, tiles), p.dim, 0, stream>>>(p);
  return launch_status();
}

}  // namespace

CudaStatus pyramid_cuda(const PyramidCudaParams& params, void* stream) {
  if (params.levels == 0 || params.bh == 0) return nullptr;
  if (params.levels > kMaxPyramidLevels) return "too many pyramid levels";
  const auto s = static_cast<cudaStream_t>(stream);
  switch (params.dtype) {
    case CudaDtype::f32: return launch_pyramid<float>(params, s);
    case CudaDtype::f16: return launch_pyramid<__half>(params, s);
    case CudaDtype::bf16: return launch_pyramid<__nv_bfloat16>(params, s);
  }
  return "unknown dtype";
}

}  // namespace fmav
