#pragma once
// The heads overview (panel_heads.cpp): every layer x head of a model, or every head of a
// q/k/v file, as thumbnails ranked by how well FMA approximates them; its worker, the
// results it keeps and the thumbnails' textures.

#include "map_colors.h"
#include "map_params.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace fmav::viewer {

struct Shared;

// What the overview is computed for: MapParams where only the source counts (model, input
// and offset; or the q/k/v file and the FMA settings), never the head shown.
using HeadsKey = MapParams;

// One head: its error metrics and its maps max-pooled to a side x side thumbnail.
struct HeadSummary {
  int layer = 0, head = 0;
  double output_rel_error = 0, mean_tv = 0, mean_kl = 0;
  int side = 0;
  std::vector<double> fma;          // largest FMA probability of each pooled cell
  std::vector<double> diff;         // FMA - full of largest magnitude in each cell
  std::vector<std::int8_t> masked;  // -1 where every pair of the cell is masked, else 0
};

struct HeadsResult {
  HeadsKey key;
  int layers = 0, heads = 0;
  std::int64_t tokens = 0;
  std::vector<HeadSummary> summaries;  // layer-major
  std::string error;                   // fmav::Error message; empty on success
  bool cancelled = false;
  double seconds = 0;
  std::string device_text;  // where the maps were computed (viewer_device.h maps_device_text)
};

// Shared between the frame and the worker.
struct HeadsProgress {
  std::atomic<int> done{0}, total{0};
  std::atomic<bool> cancel{false};
};

enum class HeadsOrder { output_error, mean_tv, layer_head };

struct HeadsPanel {
  std::future<HeadsResult> pending;
  HeadsKey pending_key;
  std::shared_ptr<HeadsProgress> progress;
  bool attempted = false;  // a run for `attempted_key` was started (no automatic retry)
  HeadsKey attempted_key;
  std::vector<std::shared_ptr<const HeadsResult>> cache;  // successful runs, newest last
  std::shared_ptr<const HeadsResult> shown;               // the current key's run (maybe an error)

  bool show_diff = false;
  HeadsOrder order = HeadsOrder::output_error;
  // Thumbnail textures of `textures_of`, coloured with these settings.
  std::vector<unsigned int> textures;
  std::shared_ptr<const HeadsResult> textures_of;  // held: no new result reuses its address
  MapColors textures_colors;
  bool textures_diff = false;
  double diff_limit = 0;  // largest |FMA - full| over all heads (a shared colour range)
};

// Every layer x head of the model as thumbnails ranked by approximation error; a click
// opens that head in the attention view. Starts the worker for the current source.
void draw_heads_view(Shared& shared, HeadsPanel& heads);
// Whether the heads view is shown and its worker has not yet finished for the current
// model and input (a screenshot waits for it).
bool heads_busy(const Shared& shared, const HeadsPanel& heads);
// Cancels and waits for the heads worker and frees the thumbnails' textures (at exit, with
// the GL context alive).
void release_heads(HeadsPanel& heads);

}  // namespace fmav::viewer
