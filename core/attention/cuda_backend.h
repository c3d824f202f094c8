#pragma once
// The engine's CUDA backend as core sees it: fused FMA-1D (and local attention) on CUDA
// tensors, and the device facts, timers and memory statistics `fmav bench` needs. Defined in
// cuda_dispatch.cpp, the one file that calls the launchers of kernels/; in a build without
// the kernels every function here throws fmav::Error (or reports no device).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fma_internal.h"

namespace fmav {

// FMA-1D (§2) of CUDA tensors q, k, v (B, H, N, D), float32, float16 or bfloat16 with D in
// {32, 64, 128}: the pyramid (down-sampling kernel, or LibTorch ops when gradients are
// needed) then the fused kernels; differentiable. Throws fmav::Error naming an unsupported
// dtype, head dimension or configuration.
at::Tensor fma_fused_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FmaConfig& config,
                          const FmaWeights& weights);
// Local attention (key blocks b-1, b, b+1; causal b-1, b) by the same kernels with no coarse
// slots: {out (B, H, N, D), row log-sum-exp (B, H, N)}, differentiable.
std::vector<at::Tensor> local_attention_fused_cuda_lse(const at::Tensor& q, const at::Tensor& k,
                                                       const at::Tensor& v, std::int64_t block_size, bool causal);
// Whether the fused CUDA kernels take this dtype and head dimension (else the blocked path).
bool cuda_kernels_take(at::ScalarType dtype, std::int64_t dim);
// One stream's pyramid of a CUDA tensor by the down-sampling kernel, level by level (no
// autograd), laid out as Pyramid::kc; pyramid_stream's device half.
at::Tensor pyramid_stream_cuda(const at::Tensor& x, const Levels& levels, const FmaConfig& config,
                               const FmaWeights& weights, Stream stream);

// Visible CUDA devices, and the first one's name and memory ("" / 0 without one).
int cuda_visible_devices();
std::string cuda_device_summary();
void cuda_synchronize();
// The CUDA caching allocator's peak of allocated bytes since the last reset, on device 0.
void cuda_reset_peak_memory();
std::int64_t cuda_peak_memory_bytes();
// Fills every output of the kernels with NaN before each launch (tests: an element a
// kernel forgot to write shows).
void set_cuda_poison_outputs(bool poison);

// Elapsed device time between start() and stop() on the current stream, by CUDA events.
class CudaTimer {
 public:
  CudaTimer();
  ~CudaTimer();
  void start();
  double stop_ms();  // waits for the stop event

 private:
  struct Events;
  std::unique_ptr<Events> m_events;
};

}  // namespace fmav
