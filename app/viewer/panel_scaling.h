#pragma once
// The scaling view (panel_scaling.cpp): an `fmav bench --jsonl` results file as latency and
// memory against N per method, and the form that runs a benchmark on a worker thread.

#include "plot.h"
#include "streamed_run.h"

#include "fmav/bench.h"
#include "fmav/device.h"

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>

namespace fmav::viewer {

struct Shared;

// A benchmark started from the view's form; the worker writes, the frame reads.
struct BenchRun : StreamedRun<BenchRow> {
  std::atomic<int> rows{0}, total{0};
};

struct BenchForm {
  std::string methods = "fma,sdpa,local", ns = "256:8192", out = "bench.jsonl";
  std::int64_t heads = 2;
  int repeats = 3;  // timed runs per (method, N) after the warm-up
  Device device = Device::cpu;  // where the runs it starts compute (cuda: FMA against SDPA's backends)
};

struct ScalingPanel {
  BenchForm form;
  std::shared_ptr<BenchRun> run;  // null: none under way
  std::future<void> worker;
  std::string path;  // empty: no results yet
  BenchFile file;
  PlotState latency, memory;
};

// Reads an `fmav bench --jsonl` results file (fmav/bench.h) and shows it in the scaling
// view (the form kept). Throws fmav::Error naming the file (the panel is then unchanged).
void open_bench_file(ScalingPanel& panel, const std::string& path);
// The scaling view: median latency (bars: min..max of the repeats) and peak memory against
// N per method (log-log) with reference slopes named at their ends, out-of-memory markers
// and where FMA overtakes each other method beyond the spread (bench_faster).
// A benchmark can be started from the view's form (run_bench on a worker thread).
void draw_scaling_view(Shared& shared, ScalingPanel& panel);
// Whether a benchmark started from the view is running.
bool scaling_busy(const ScalingPanel& panel);
// Cancels the running benchmark and waits for it (at exit).
void release_scaling(ScalingPanel& panel);

}  // namespace fmav::viewer
