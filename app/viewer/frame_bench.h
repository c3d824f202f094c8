#pragma once
// Frame-time measurement of the viewer (`fma-viewer --bench-frames n`).

#include <functional>

#include "viewer_state.h"

namespace fmav::viewer {

struct Platform;
using FrameFn = std::function<void()>;  // polls, updates and draws one frame (no present)

// Waits for the engine, then times `frames` idle frames and at least `frames` frames while
// the engine recomputes the same view; prints median, mean, p95 and max. Returns the exit
// code (1 when the engine reported an error).
int run_bench_frames(Platform& platform, ViewerState& state, int frames, const FrameFn& frame);

}  // namespace fmav::viewer
