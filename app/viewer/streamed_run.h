#pragma once
// A worker run that streams its results to the UI thread (the sweep and scaling views): the
// worker appends each result under a mutex, the frame takes what arrived, and both see the
// cancel flag (docs/DESIGN.md §5.3).

#include "shared.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fmav::viewer {

template <typename Result>
struct StreamedRun {
  std::atomic<bool> cancel{false};
  std::mutex mutex;
  std::vector<Result> arrived;  // not yet taken by the frame (guarded by mutex)
  std::string error;            // why the run stopped, when it failed (guarded)

  void push(const Result& result) {
    std::lock_guard<std::mutex> lock(mutex);
    arrived.push_back(result);
  }
  void fail(const std::string& why) {
    std::lock_guard<std::mutex> lock(mutex);
    error = why;
  }
};

// Hands the results streamed since the last frame to `take` (one at a time); when the
// worker has ended, reports how ("<what> finished; results in <path>", cancelled, or the
// error) and resets `run`. Never blocks.
template <typename Run, typename Take>
void collect_streamed(Shared& shared, std::shared_ptr<Run>& run, std::future<void>& worker, const char* what,
                      const std::string& path, Take&& take) {
  if (!run) return;
  {
    std::lock_guard<std::mutex> lock(run->mutex);
    for (auto& result : run->arrived) take(std::move(result));
    run->arrived.clear();
  }
  if (worker.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  worker.get();
  std::lock_guard<std::mutex> lock(run->mutex);
  if (!run->error.empty()) {
    report_error(shared, std::string(what) + ": " + run->error);
  } else {
    shared.status_message = std::string(run->cancel ? "cancelled the " : "finished the ") + what + "; results in " + path;
  }
  run.reset();
}

// Whether a panel's worker (panel.run, panel.worker) is under way. Its own state: the view
// collects the run only while it is shown.
template <typename Panel>
bool streamed_busy(const Panel& panel) {
  return panel.run && panel.worker.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
}

// Asks a panel's worker to stop and waits for it (the viewer is closing).
template <typename Panel>
void release_streamed(Panel& panel) {
  if (!panel.run) return;
  panel.run->cancel = true;
  panel.worker.wait();
}

}  // namespace fmav::viewer
