// Engine start-up (threads) and the facts the GUI and `fmav --version` show.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/headeronly/version.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

#include "fmav/engine.h"
#include "fmav/error.h"
#include "fused_tiles.h"

namespace fmav {

void init_engine() {
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  if (const char* env = std::getenv("FMAV_THREADS")) {
    const int requested = std::atoi(env);
    FMAV_CHECK(requested >= 1 && requested <= 4096, "FMAV_THREADS must be an integer in [1, 4096], got '",
               env, "'");
    threads = requested;
  }
  at::set_num_threads(threads < 1 ? 1 : threads);
}

DeviceInfo device_info() {
  DeviceInfo info;
  info.version = FMAV_VERSION;
  info.torch_version = TORCH_VERSION;
  info.threads = at::get_num_threads();
  info.cpu_kernels = fused_cpu_isa();
#ifdef FMAV_WITH_CUDA
  info.cuda_built = true;
#endif
  info.cuda_available = at::hasCUDA();
  info.cuda_devices = info.cuda_available ? static_cast<int>(at::detail::getCUDAHooks().getNumGPUs()) : 0;
  // How idle OpenMP workers wait: fmav and fma-viewer set passive unless the user chose.
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  const std::string wait = policy != nullptr ? std::string(policy) : spin != nullptr ? "GOMP_SPINCOUNT=" + std::string(spin)
                                                                                     : "default (spin, then sleep)";
  std::ostringstream summary;
  summary << "fma-viewer " << info.version << ", LibTorch " << info.torch_version << "\n"
          << "CPU: " << info.threads << " intra-op threads, fused kernels " << info.cpu_kernels << ", OpenMP wait "
          << wait << "\n"
          << "CUDA: " << "build " << (info.cuda_built ? "enabled" : "disabled") << ", "
          << (info.cuda_available ? std::to_string(info.cuda_devices) + " device(s) visible"
                                  : "no device visible")
          << "\n";
  info.summary = summary.str();
  return info;
}

}  // namespace fmav
