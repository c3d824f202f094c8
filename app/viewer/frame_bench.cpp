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

// One frame's time, whole and in its two phases (ms), and the maps its GL work coloured.
struct FrameTime {
  double total = 0, build = 0, render = 0;
  std::uint64_t colored = 0;
  bool storage = false;  // texture storage was being made on the storage thread meanwhile
};

void print_stats(const char* what, const std::vector<FrameTime>& frames) {
  std::vector<double> total, build, render;
  const FrameTime* slowest = nullptr;
  for (const FrameTime& f : frames) {
    total.push_back(f.total);
    build.push_back(f.build);
    render.push_back(f.render);
    if (!slowest || f.total > slowest->total) slowest = &f;
  }
  const Stats s = stats_of(total);
  std::printf("%-26s %5zu frames  median %7.2f ms  mean %7.2f  p95 %7.2f  max %7.2f\n", what, frames.size(), s.median,
              s.mean, s.p95, s.max);
  if (!slowest) return;
  std::vector<double> with_storage;
  for (const FrameTime& f : frames) {
    if (f.storage) with_storage.push_back(f.total);
  }
  if (!with_storage.empty()) {
    const Stats w = stats_of(with_storage);
    std::printf("%-26s %zu frames while texture storage was made: median %.2f ms, max %.2f\n", "",
                with_storage.size(), w.median, w.max);
  }
  std::printf("%-26s median UI code %.2f ms, GL %.2f ms; slowest frame: UI code %.2f ms, GL %.2f ms, %llu maps coloured\n",
              "", stats_of(build).median, stats_of(render).median, slowest->build, slowest->render,
              static_cast<unsigned long long>(slowest->colored));
}

}  // namespace

int run_bench_frames(Platform& platform, Shared& shared, int frames, const FrameFn& frame, const BusyFn& busy) {
  // One frame, timed from the start of its UI code to the end of the GL work (glFinish).
  const auto ms_since = [](Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  };
  const auto timed = [&] {
    FrameTime t;
    const auto t0 = Clock::now();
    frame.build();
    t.build = ms_since(t0);
    const auto t1 = Clock::now();
    const std::uint64_t colored = map_draw_counts().colored;
    const bool storage = map_storage_pending();
    frame.render();
    platform_finish(platform);
    t.render = ms_since(t1);
    t.colored = map_draw_counts().colored - colored;
    t.storage = storage || map_storage_pending();
    t.total = ms_since(t0);
    platform_present(platform);
    return t;
  };
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  // Warm-up: until the maps, an exact tile, the fast-path check and the heads are done.
  while (busy() && Clock::now() < deadline) timed();
  if (maps_busy(shared)) {
    std::fprintf(stderr, "fma-viewer: engine still busy after 10 minutes\n");
    return 1;
  }
  std::vector<FrameTime> idle, working;
  const MapDrawCounts before = map_draw_counts();
  for (int i = 0; i < frames; ++i) idle.push_back(timed());
  const MapDrawCounts after = map_draw_counts();
  // The same view while the worker recomputes it: the frame must not wait for the engine.
  // Twice: the first new result of a size gets new texture storage (the staging set, see
  // MapsPanel::staged), the second reuses the storage the first replaced.
  std::vector<FrameTime> again;
  for (std::vector<FrameTime>* times : {&working, &again}) {
    shared.maps.recompute = true;
    while ((times->size() < static_cast<std::size_t>(frames) || maps_busy(shared)) && Clock::now() < deadline) {
      times->push_back(timed());
    }
  }
  const Inspection* in = shared.maps.shown.inspection.get();
  std::printf("fma-viewer frame times, %dx%d window, maps %lld x %lld, view %s\n", platform_width(platform),
              platform_height(platform), in ? static_cast<long long>(in->rows) : 0LL,
              in ? static_cast<long long>(in->cols) : 0LL, to_string(shared.view));
  print_stats("idle", idle);
  print_stats("while the engine works", working);
  print_stats("again, storage reused", again);
  // Idle frames recolour no map: each copies the colouring kept since the maps last changed.
  std::printf("idle map draws: %llu coloured, %llu copied from the kept colouring\n",
              static_cast<unsigned long long>(after.colored - before.colored),
              static_cast<unsigned long long>(after.kept - before.kept));
  return shared.maps.shown.error.empty() ? 0 : 1;
}

}  // namespace fmav::viewer
