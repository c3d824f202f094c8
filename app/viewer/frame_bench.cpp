// `fma-viewer --bench-frames n`: frame times of the real UI (docs/DESIGN.md §6's GUI targets),
// idle and while the engine recomputes on its worker thread, printed as statistics.

#include "frame_bench.h"
#include "maps_worker.h"
#include "platform_glfw.h"
#include "shared.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace fmav::viewer {
namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double median = 0, p95 = 0, max = 0, mean = 0;
};

Stats stats_of(std::vector<double> ms) {
  Stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  for (double m : ms) s.mean += m / static_cast<double>(ms.size());
  s.median = ms[ms.size() / 2];
  s.p95 = ms[std::min(ms.size() - 1, ms.size() * 95 / 100)];
  s.max = ms.back();
  return s;
}

void print_stats(const char* what, const std::vector<double>& ms) {
  const Stats s = stats_of(ms);
  std::printf("%-26s %5zu frames  median %7.2f ms  mean %7.2f  p95 %7.2f  max %7.2f\n", what, ms.size(), s.median,
              s.mean, s.p95, s.max);
}

}  // namespace

int run_bench_frames(Platform& platform, Shared& shared, int frames, const FrameFn& frame, const BusyFn& busy) {
  // One frame, timed from the start of its UI code to the end of the GL work (glFinish).
  const auto timed = [&] {
    const auto t0 = Clock::now();
    frame();
    platform_finish(platform);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    platform_present(platform);
    return ms;
  };
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  // Warm-up: until the maps, an exact tile, the fast-path check and the heads are done.
  while (busy() && Clock::now() < deadline) timed();
  if (maps_busy(shared)) {
    std::fprintf(stderr, "fma-viewer: engine still busy after 10 minutes\n");
    return 1;
  }
  std::vector<double> idle, working;
  const MapDrawCounts before = map_draw_counts();
  for (int i = 0; i < frames; ++i) idle.push_back(timed());
  const MapDrawCounts after = map_draw_counts();
  // The same view while the worker recomputes it: the frame must not wait for the engine.
  shared.maps.recompute = true;
  while ((working.size() < static_cast<std::size_t>(frames) || maps_busy(shared)) && Clock::now() < deadline) {
    working.push_back(timed());
  }
  const Inspection* in = shared.maps.shown.inspection.get();
  std::printf("fma-viewer frame times, %dx%d window, maps %lld x %lld, view %s\n", platform_width(platform),
              platform_height(platform), in ? static_cast<long long>(in->rows) : 0LL,
              in ? static_cast<long long>(in->cols) : 0LL, to_string(shared.view));
  print_stats("idle", idle);
  print_stats("while the engine works", working);
  // Idle frames recolour no map: each copies the colouring kept since the maps last changed.
  std::printf("idle map draws: %llu coloured, %llu copied from the kept colouring\n",
              static_cast<unsigned long long>(after.colored - before.colored),
              static_cast<unsigned long long>(after.kept - before.kept));
  return shared.maps.shown.error.empty() ? 0 : 1;
}

}  // namespace fmav::viewer
