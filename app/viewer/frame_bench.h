#pragma once
// Frame-time measurement of the viewer (`fma-viewer --bench-frames n`).

#include <functional>

namespace fmav::viewer {

struct Platform;
struct Shared;
using FrameFn = std::function<void()>;  // polls, updates and draws one frame (no present)
using BusyFn = std::function<bool()>;   // whether a worker (maps, tile, check, a panel's) runs

// Waits until `busy` says the workers are done, then times `frames` idle frames and at least
// `frames` frames while the engine recomputes the same view; prints median, mean, p95 and
// max. Returns the exit code (1 when the engine reported an error).
int run_bench_frames(Platform& platform, Shared& shared, int frames, const FrameFn& frame, const BusyFn& busy);

}  // namespace fmav::viewer
