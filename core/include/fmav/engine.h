#pragma once
// Engine start-up and facts about where it runs.

#include <cstdint>
#include <string>

namespace fmav {

// Sets LibTorch's intra-op threads to the machine's cores (or FMAV_THREADS when set).
// Call once at start-up, before any engine work.
void init_engine();

struct DeviceInfo {
  std::string version;         // fma-viewer version
  std::string torch_version;   // LibTorch version
  int threads = 0;             // intra-op threads in use
  std::string cpu_kernels;     // instruction set the fused CPU kernels run with
  bool cuda_built = false;     // configured with the CUDA build (FMAV_CUDA found nvcc)
  bool cuda_available = false; // a CUDA device is visible to LibTorch
  int cuda_devices = 0;
  std::string summary;         // a few human-readable lines (CPU features, backends)
};

DeviceInfo device_info();

// The process's resident memory now (Linux VmRSS), in bytes; 0 where unknown.
std::int64_t resident_memory_bytes();

}  // namespace fmav
