#pragma once
// r x p sweeps (docs/DESIGN.md §5, §6): a grid over the fine block size r (m), the coarse rank p,
// and optionally down-sampling kind, multiplicity, N and dtype, measured on a model and its
// input or on the synthetic input. Every point is appended to a JSONL results file as it
// finishes (flushed), so a crashed or cancelled sweep keeps its points and resumes where it
// stopped; --shard i/N splits a sweep among processes and merge_sweep_files joins them.
// The specification, results and their file: fmav/sweep_file.h.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "fmav/sweep_file.h"

namespace fmav {

struct SweepEstimate {
  std::int64_t points = 0;      // this shard's
  std::int64_t done = 0;        // already in the results file
  double seconds = 0;           // for the rest: a cost model (n^2 D per head inspected)
                                // calibrated before the first point, then on it
  std::int64_t peak_bytes = 0;  // the largest point's estimated tensor memory
};

struct SweepProgress {
  SweepEstimate estimate;
  std::int64_t finished = 0;  // points finished in this run
  const SweepResult* last = nullptr;
};
using SweepProgressFn = std::function<void(const SweepProgress&)>;

// What run_sweep would do now: this shard's points, those already in `results_path`, and
// the estimated time and largest memory of the rest (loads a model and calibrates for
// about a second at most). Throws as run_sweep does before its first point.
SweepEstimate estimate_sweep(const SweepSpec& spec, const std::string& results_path);

// Runs this shard's points of `spec` not yet in `results_path`, appending each result as a
// line and flushing it to disk. A new file gets the header; an existing file must hold the
// same sweep (same_sweep) and its cut-off last line is removed first. A point that runs
// out of memory is recorded as `oom` and the sweep goes on; another failure of a point is
// `failed`. `cancel` is polled between points. Returns the results of this run.
// Throws fmav::Error for a bad spec, an unreadable model or input, or a results file of
// another sweep.
std::vector<SweepResult> run_sweep(const SweepSpec& spec, const std::string& results_path,
                                   const SweepProgressFn& progress = {},
                                   const std::atomic<bool>* cancel = nullptr);

}  // namespace fmav
