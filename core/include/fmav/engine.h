#pragma once
// Engine start-up and facts about where it runs: threads, versions, memory, and whether a
// CUDA device can run the kernels (resolving --device auto).

#include <cstdint>
#include <string>

#include "fmav/device.h"

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

// Whether this build compiled the CUDA kernels (FMAV_CUDA found nvcc and a CUDA LibTorch).
bool cuda_kernels_built();
// CUDA devices LibTorch sees (0 without the kernels: they are what a device runs).
int cuda_device_count();
// Why `--device cuda` cannot run here, or "" when it can: no kernels in this build, or no
// device visible.
std::string cuda_unavailable_reason();
// cpu or cuda: `requested` itself, auto resolved. Throws fmav::Error saying why for cuda
// when cuda_unavailable_reason() is not empty.
Device resolve_device(Device requested);
// One line on a resolved device: "cpu (2 threads)" or "cuda:0 (NVIDIA H200, 139.8 GiB)".
std::string describe_device(Device resolved);

// The process's resident memory now (Linux VmRSS), in bytes; 0 where unknown.
std::int64_t resident_memory_bytes();

}  // namespace fmav
