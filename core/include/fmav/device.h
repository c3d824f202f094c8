#pragma once
// Where the engine computes (DESIGN.md §5): the CPU, always built and the reference, or a
// CUDA device through the fused kernels in kernels/, chosen at run time. No LibTorch here.

#include <string>

namespace fmav {

// cpu: the CPU path. cuda: the first CUDA device; an error when this build has no CUDA
// kernels or no device is visible. automatic ("auto"): cuda when it could run, else cpu.
enum class Device { cpu, cuda, automatic };

const char* to_string(Device device);  // "cpu" | "cuda" | "auto"
// "cpu" | "cuda" | "auto" into a Device; throws fmav::Error naming the text.
Device parse_device(const std::string& name);

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

}  // namespace fmav
