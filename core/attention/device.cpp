// Run-time device choice (fmav/device.h): the CPU always; CUDA when this build has the
// kernels and LibTorch sees a device (cuda_backend.h). The names are device_names.cpp's.

#include "fmav/engine.h"

#include <ATen/Parallel.h>

#include "cuda_backend.h"
#include "fmav/error.h"

namespace fmav {

bool cuda_kernels_built() {
#if FMAV_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() { return cuda_kernels_built() ? cuda_visible_devices() : 0; }

std::string cuda_unavailable_reason() {
  if (!cuda_kernels_built()) {
    return "this build has no CUDA kernels (configured with FMAV_CUDA=OFF, or without nvcc or a CUDA LibTorch)";
  }
  if (cuda_visible_devices() == 0) return "no CUDA device is visible (no GPU, no driver, or CUDA_VISIBLE_DEVICES hides it)";
  return "";
}

Device resolve_device(Device requested) {
  if (requested == Device::cpu) return Device::cpu;
  const std::string why = cuda_unavailable_reason();
  if (requested == Device::automatic) return why.empty() ? Device::cuda : Device::cpu;
  FMAV_CHECK(why.empty(), "device cuda: ", why, "; use --device cpu or auto");
  return Device::cuda;
}

std::string describe_device(Device resolved) {
  if (resolved == Device::cuda) return "cuda:0 (" + cuda_device_summary() + ")";
  const int threads = at::get_num_threads();
  return "cpu (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)");
}

}  // namespace fmav
