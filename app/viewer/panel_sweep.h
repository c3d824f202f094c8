#pragma once
// The sweep view's state, shared by panel_sweep.cpp (the results) and panel_sweep_run.cpp
// (running a synthetic sweep from the view's form on a worker thread).

#include "plot.h"
#include "streamed_run.h"

#include "fmav/fma.h"
#include "fmav/sweep.h"
#include "fmav/tensor.h"

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fmav::viewer {

struct Shared;

// What the heat map and the table's highlight show (the order of kMetricNames).
enum class SweepMetric { output_rel_error, mean_tv, mean_kl, bpc, latency, peak_bytes };

// A sweep started from the view's form; the worker writes, the frame reads.
struct SweepRun : StreamedRun<SweepResult> {
  std::atomic<std::int64_t> points{0}, done{0};  // this run's grid, and points in the file
  std::atomic<double> seconds_left{0};          // run_sweep's estimate
};

// The form that starts a sweep: of the loaded model on its input, or synthetic.
struct SweepForm {
  bool on_model = true;  // the loaded model on its input (when there is one), else synthetic
  std::string block_sizes = "8,16,32,64", ranks = "1,2,4,8", out = "sweep.jsonl";
  std::string downsamples = "average";  // comma list of average, learned, dense
  std::int64_t n = 1024, heads = 4;  // synthetic
  bool causal = false;               // synthetic
  std::string method = "fma";        // or a peer (SweepSpec::method)
  Device device = Device::cpu;       // where the fast path is timed (SweepSpec::devices; auto resolved)
};

struct SweepPanel {
  SweepForm form;
  std::shared_ptr<SweepRun> run;  // null: none under way
  std::future<void> worker;
  std::future<std::string> estimating;  // the form's estimate, computed on a worker
  std::string estimate;                 // its text (or why there is none)
  std::string estimate_of;              // what it was computed for (estimate_key)
  std::string path;  // empty: no results yet
  SweepFile file;
  bool has_bpc = false;  // some point has a model's bits per byte
  SweepMetric metric = SweepMetric::output_rel_error;
  // The grid's axes besides r and p (each filtered to one value) and r, p themselves,
  // ascending, from the spec.
  std::vector<std::int64_t> ns, block_sizes, ranks;
  std::vector<Downsample> downsamples;
  std::vector<bool> multiplicities;
  std::vector<DType> dtypes;
  int n_index = 0, downsample_index = 0, multiplicity_index = 0, dtype_index = 0;
  std::int64_t selected = -1;  // index into file.results; -1: none
  PlotState heat, latency, memory;
};
// Reads an `fmav sweep` results file (fmav/sweep.h) and shows it in the sweep view (the
// form kept, all else reset). Throws fmav::Error naming the file (the panel is then unchanged).
void open_sweep_file(SweepPanel& panel, const std::string& path);
// The sweep view: a metric over the r x p grid as a heat map, error against latency and
// against peak memory with the Pareto front, and a sortable table; a selected point opens
// in the attention view (shared.params). A synthetic sweep can be started from the view's
// form (run_sweep on a worker thread).
void draw_sweep_view(Shared& shared, SweepPanel& panel);
// Whether a sweep started from the view is running.
bool sweep_busy(const SweepPanel& panel);
// Cancels the running sweep and waits for it (at exit).
void release_sweep(SweepPanel& panel);

// Shows `file` (read from `path`): the grid's axes from its spec, nothing selected. Throws
// fmav::Error naming the path for an empty grid (panel_sweep.cpp).
void set_results(SweepPanel* panel, SweepFile file, const std::string& path);
// Collects the running sweep's new points, then draws the form that starts one, with its
// progress and Cancel button while it runs (panel_sweep_run.cpp).
void draw_sweep_run(Shared& shared, SweepPanel& panel);

}  // namespace fmav::viewer
