#pragma once
// The maps' worker (docs/DESIGN.md §5): one engine run per settings change on a std::async
// thread, exact tiles of a zoomed-in pooled map and the fast-path check; its latest result is
// what the maps, the query inspector and the status bar show.

#include "map_params.h"

#include "fmav/attend.h"
#include "fmav/fma.h"
#include "fmav/input.h"
#include "fmav/inspect.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace fmav::viewer {

struct SegmentView;  // segment_view.h

struct Shared;

// Largest side of a map texture. A larger n is shown as an overview of pool x pool block
// means (pool = ceil(n / kMaxMapSide)), refined by exact tiles of what is visible.
constexpr std::int64_t kMaxMapSide = 4096;
// A pooled map zoomed in to at most this many tokens across (both ways) gets an exact tile
// of the visible part and half a view around it.
constexpr std::int64_t kTileSpan = 1024;

// Differences below this are round-off of the float64 maps, not approximation error.
constexpr double kDiffFloor = 1e-12;

// The four maps, in the order they are drawn.
enum MapKind { kMapFull = 0, kMapFma, kMapDiff, kMapLevel, kMapCount };

// One map's values as a float texture: level 0 (height x width, row-major) then each mip
// level of 2 x 2 block means, so that a zoomed-out map shows each pixel's mean, not every
// k-th token. Coloured on the GPU (shaders/maps.frag).
struct MapValues {
  int width = 0, height = 0;
  std::vector<std::vector<float>> mips;
};

// The GPU's data of one inspection: full, FMA and FMA - full (kMapFull..kMapDiff), and the
// level map as level + 1 bytes (0 = masked), which also masks the other three.
struct MapData {
  std::array<MapValues, kMapLevel> values;
  std::vector<std::uint8_t> level_codes;
  double prob_max = 1;    // the largest probability of both maps (linear scale's top)
  double diff_max = 0;    // the largest finite |FMA - full|
  // The difference map's colour range: diff_max, but at least kDiffFloor, so that float64
  // round-off (1e-16) between equal maps is not drawn at full saturation.
  double diff_limit = 0;
  std::int64_t nonfinite_cells = 0;  // cells whose FMA or full value is NaN or Inf (drawn marked)
};

// An exact (unpooled) part of a pooled map: query rows [r0, r1) x keys [c0, c1).
struct MapTile {
  std::int64_t r0 = 0, r1 = 0, c0 = 0, c1 = 0;
  std::shared_ptr<const Inspection> of;  // the overview it refines
  std::shared_ptr<const Inspection> inspection;
  MapData data;
  std::string error;
  bool contains(double row, double col) const { return row >= r0 && row < r1 && col >= c0 && col < c1; }
};

// A worker run's progress (0..1) and the UI's request to stop it: atomics plus a cancel flag
// (docs/DESIGN.md §5.3).
struct WorkProgress {
  std::atomic<double> fraction{0};
  std::atomic<bool> cancel{false};
};

// What the engine inspects: one head of q, k, v under an FMA configuration or a peer method.
struct HeadInput {
  HostTensor q, k, v;  // the source's, all heads
  FmaConfig fma;       // FMA's configuration; a peer's block, causal flag and grid
  WeightSet weights;
  std::int64_t head = 0;
  Method method = Method::fma;
  PeerOptions peer;
  AttendOptions options() const { return {method, Impl::automatic, fma, peer}; }
};

// The sidebar's fast-path check: an implementation of the shown FMA variant, timed and
// checked against the inspector's float64 output, beside full attention (SDPA).
struct FastPath {
  Impl impl = Impl::automatic;
  bool f64 = false;  // float64, else float32
  Device device = Device::cpu;  // cuda: float32 only; times include the host-device copies
  bool operator==(const FastPath& o) const { return impl == o.impl && f64 == o.f64 && device == o.device; }
  bool operator!=(const FastPath& o) const { return !(*this == o); }
};
struct FastPathCheck {
  FastPath settings;
  std::shared_ptr<const Inspection> of;  // the shown map it was run for
  double fma_seconds = 0, full_seconds = 0;  // medians of a few runs after a warm-up
  double rel_error = 0;  // ||O - O_fma,float64|| / ||O_fma,float64||
  std::string error;
};

// What one worker run produces: the engine's numbers and their images, or an error.
struct MapJob {
  MapParams params;
  std::shared_ptr<const Inspection> inspection;  // null on error; pooled when n > kMaxMapSide
  Inspector inspector;  // the head, prepared: tiles and single query rows come from it
  std::shared_ptr<const HeadInput> input;  // what it was prepared from (the fast-path check)
  MapData data;
  std::string error;   // fmav::Error message; empty on success
  bool cancelled = false;  // stopped by the Cancel button or a newer change
  double seconds = 0;  // engine time of the run (0 when only recoloured)
  // Where the maps were computed (cpu or cuda, the inspector's; params.device auto resolved),
  // and that line for the header and status bar ("maps on the cpu (auto: ...)"); empty
  // before the inspector was made.
  Device device = Device::cpu;
  std::string device_text;
  // What was computed: the method (FMA or a peer) and its configuration (a model's own),
  // the tokens, and for a model its name, layers and heads (a q/k/v file: one layer, its heads).
  FmaConfig fma;
  Method method = Method::fma;
  PeerOptions peer;
  std::int64_t tokens = 0;
  std::string source;  // e.g. "lm-fma (causal-lm, fma attention) on sample.txt"
  // The NaN and Inf in q, k, v let through (source_finite.h): "q (q.npy) holds ...", or "".
  std::string nonfinite;
  // A model's source: the model's name and the attention it was trained with (a Hugging Face
  // model: full), so the header can say which map is the counterfactual (issue 21 point 5).
  bool from_model = false;
  std::string model_name;
  Method trained = Method::full;
  int layers = 0, heads = 0;
  // The model's input, for the query inspector: a text model's window (token i = text[i]),
  // or an image model's image fitted to its size (null otherwise).
  std::string text;
  std::shared_ptr<const Image> image;
  // A segmenter's layer as "stage s, block b (G x G)" (empty for the other sources).
  std::string layer_name;
  // A segmenter's prediction and ground truth on that image (null for the other models).
  std::shared_ptr<const SegmentView> segments;
  // A Hugging Face model's input: each token's text piece (token i = pieces[i]; empty for
  // ids without a tokenizer.json, or another source).
  std::vector<std::string> pieces;
};

// The worker's runs under way and their latest results; the frame only polls the futures.
struct MapsWorker {
  MapJob shown;  // the latest run with maps (or, before any has maps, the latest failed run)
  bool has_shown = false;
  // A run newer than `shown` that failed: its error is shown beside the last good maps, which
  // stay on screen until new ones replace them; not rerun until its settings change.
  MapJob failed;
  bool has_failed = false;
  // A finished run with maps, waiting while the maps panel uploads its textures one map per
  // frame (upload_arrived_maps; four 4096² mip chains at once made a ~50 ms frame on
  // llvmpipe); adopt_arrived then makes it `shown`, so the header and the textures change in
  // the same frame. arrived_count counts such runs.
  MapJob arrived;
  bool has_arrived = false;
  int arrived_count = 0;
  // Runs and tiles taken so far: a new count tells the maps panel to upload new textures.
  int shown_count = 0, tile_count = 0;
  bool recompute = false;       // the Recompute button was pressed
  std::future<MapJob> pending;  // the worker's run, when one is under way
  MapParams pending_params;     // what it computes
  std::shared_ptr<WorkProgress> progress;  // its progress and cancel flag
  MapParams cancelled_params;   // a run of these was cancelled: not restarted until they change
  bool has_cancelled = false;
  std::future<MapTile> tile_pending;  // an exact tile being computed for a pooled map
  MapTile tile;                       // the latest tile (tile.of == shown.inspection to show)
  FastPath fast_path;                        // as the sidebar sets it
  std::future<FastPathCheck> check_pending;  // the fast-path check being run
  FastPathCheck check;                       // the latest
  std::future<void> discarding;  // the replaced run, being freed off the UI thread
};

// Collects a finished run and starts the next one when shared.params changed; fits the
// shared viewport to new maps and applies a waiting zoom; asks for the exact tile the
// viewport needs and the fast-path check. Call once a frame before drawing. Never blocks.
void update_maps(Shared& shared);
// Makes the arrived run the shown one (its textures are uploaded).
void adopt_arrived(Shared& shared);
// Whether a run is under way, waits for its textures, or the shown result does not yet
// match the settings.
bool maps_busy(const Shared& shared);
// The engine's error for the settings as they are (the shown run's, or a newer failed
// run's); empty when they ran, or have not yet.
std::string maps_error(const Shared& shared);
// Asks the run under way to stop; the shown result stays until the settings change.
void cancel_maps(Shared& shared);
// Whether an exact tile for the current zoom of a pooled map is being computed.
bool tile_busy(const Shared& shared);
// Whether the fast-path check of the shown maps is under way or not yet started.
bool check_busy(const Shared& shared);
// Cancels and waits for the worker's runs (at exit).
void release_maps(Shared& shared);

// Lowers the calling worker thread's scheduling priority, so the engine's threads yield the
// cores to the UI thread: with both cores busy, frames waited for one (64 ms at n = 4096).
void lower_worker_priority();
// The last part of a path ("lm-fma" of "assets/models/lm-fma").
std::string file_name(const std::string& path);

}  // namespace fmav::viewer
