#pragma once
// The scaling benchmark behind `fmav bench` (docs/DESIGN.md §6): each attention method at each
// sequence length, checked against its reference first, then timed (median of repeats after
// a warm-up) with FLOPs, peak tensor memory, peak RSS and the speed-up over SDPA. On CUDA
// (--device cuda) FMA's fused kernels against each of SDPA's backends, timed by CUDA events,
// memory from the CUDA caching allocator's peak. Configuration, rows and results files:
// fmav/bench_file.h.

#include <functional>
#include <string>
#include <vector>

#include "fmav/bench_file.h"

namespace fmav {

// "fma", "fma-blocked", "reference", "full", "sdpa", "sdpa-flash", "sdpa-efficient",
// "sdpa-cudnn", "sdpa-math", "local", "fma-average", "fma-linear", "fma-linear-average",
// "fma2d", "fma2d-linear", and the peers "htransformer", "linear", "reformer", "swin".
const std::vector<std::string>& bench_methods();
// What each method is and where it runs (CPU only, CUDA only), for --help.
std::string bench_method_help();
// Runs the benchmark; on_row is called as each row is measured (progress, streaming).
// Throws fmav::Error for a bad configuration (unknown method, sizes, a dtype the device does
// not take) and for device cuda where it cannot run (resolve_device's message).
std::vector<BenchRow> run_bench(const BenchConfig& config,
                                const std::function<void(const BenchRow&)>& on_row);

}  // namespace fmav
