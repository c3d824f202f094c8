#pragma once
// Where the engine computes (docs/DESIGN.md §5), by name: the CPU, always built and the reference,
// or a CUDA device through the fused kernels in kernels/, chosen at run time. Whether a
// device can run here, and resolving auto, is the engine's (fmav/engine.h).

#include <string>

namespace fmav {

// cpu: the CPU path. cuda: the first CUDA device; an error when this build has no CUDA
// kernels or no device is visible. automatic ("auto"): cuda when it could run, else cpu.
enum class Device { cpu, cuda, automatic };

const char* to_string(Device device);  // "cpu" | "cuda" | "auto"
// "cpu" | "cuda" | "auto" into a Device; throws fmav::Error naming the text.
Device parse_device(const std::string& name);

}  // namespace fmav
