#pragma once
// Frame-time measurement of the viewer (`fma-viewer --bench-frames n`).

#include <functional>

namespace fmav::viewer {

struct Platform;
struct Shared;
// One frame in two phases, timed apart: `build` polls, updates and runs the UI code (ImGui's
// draw lists, texture uploads of new results); `render` hands the draw lists to GL.
struct FrameFn {
  std::function<void()> build;
  std::function<void()> render;
};
using BusyFn = std::function<bool()>;   // whether a worker (maps, tile, check, a panel's) runs

// Waits until `busy` says the workers are done, then times `frames` idle frames and at least
// `frames` frames while the engine recomputes the same view, twice (new texture storage for
// the first result, reused for the second); prints median, mean, p95 and
// max, and where the time goes: the UI code (build) and the GL work (render to glFinish),
// as medians and for the slowest frame. Returns the exit code (1 when the engine reported an error).
int run_bench_frames(Platform& platform, Shared& shared, int frames, const FrameFn& frame, const BusyFn& busy);

}  // namespace fmav::viewer
