#pragma once
// The plain state the fma-viewer panels draw from and edit: the engine's device info, the
// FMA settings of the comparison (DESIGN.md §2), and the latest result of the map worker;
// and the panels' free functions (one .cpp per panel).

#include <array>
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "colormap.h"
#include "map_view.h"
#include "method_labels.h"
#include "platform_glfw.h"
#include "plot.h"
#include "viewer_files.h"

#include "fmav/engine.h"
#include "fmav/fma.h"
#include "fmav/input.h"
#include "fmav/inspect.h"
#include "fmav/model.h"

namespace fmav::viewer {

// Head dimension D of the shipped synthetic input.
constexpr std::int64_t kHeadDim = 64;
// Largest n the viewer shows (any source).
constexpr std::int64_t kMaxTokens = 16384;
// Largest side of a map texture. A larger n is shown as an overview of pool x pool block
// means (pool = ceil(n / kMaxMapSide)), refined by exact tiles of what is visible.
constexpr std::int64_t kMaxMapSide = 4096;
// A pooled map zoomed in to at most this many tokens across (both ways) gets an exact tile
// of the visible part and half a view around it.
constexpr std::int64_t kTileSpan = 1024;

// What the controls edit; a change starts a new engine run.
struct MapParams {
  // Source: a model run on an input file (model non-empty), raw q, k, v from a file (qkv
  // non-empty; qkv_source.h), else the synthetic sample_qkv. At most one of model, qkv is set.
  std::string model, input;
  std::string qkv;
  int layer = 0, head = 0;
  std::int64_t offset = 0;       // text: first byte of the model's window
  std::int64_t n = 512;          // tokens (synthetic)
  std::int64_t block_size = 32;  // m (synthetic and q/k/v, like the settings below)
  std::int64_t rank = 4;         // p
  bool causal = false;
  Downsample downsample = Downsample::average;
  bool count_multiplicity = true;
  std::uint64_t seed = 0;  // of the sample input and the random weights
  // The method shown for the synthetic input and a q/k/v file (a model shows its own): FMA or
  // a peer, whose block is block_size (swin: on the most square grid of n).
  Method method = Method::fma;
  int hash_rounds = 2;     // reformer
  bool shifted = false;    // swin
  // A model run with `method` (FMA, or a peer) at block_size, rank, downsample and
  // count_multiplicity above instead of its own attention (a sweep point opened from the
  // Sweep tab); its learned weights fit only its own.
  bool model_fma_override = false;

  bool operator==(const MapParams& o) const {
    return model == o.model && input == o.input && qkv == o.qkv && layer == o.layer && head == o.head &&
           offset == o.offset && n == o.n &&
           block_size == o.block_size && rank == o.rank && causal == o.causal &&
           downsample == o.downsample && count_multiplicity == o.count_multiplicity &&
           seed == o.seed && model_fma_override == o.model_fma_override && method == o.method &&
           hash_rounds == o.hash_rounds && shifted == o.shifted;
  }
  bool operator!=(const MapParams& o) const { return !(*this == o); }
};

// How probabilities are coloured: attention is best seen in log10, clamped to [-6, 0].
enum class MapScale { linear, log10 };
constexpr double kLogFloor = -6.0;  // log10 probabilities are clamped to [kLogFloor, 0]
constexpr int kDiffDecades = 4;     // decades of the symmetric-log difference map (log10)
inline int diff_decades(MapScale scale) { return scale == MapScale::log10 ? kDiffDecades : 0; }

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
  double diff_limit = 0;  // the largest |FMA - full|
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

// A worker run's progress (0..1) and the UI's request to stop it (STYLE.md: atomics plus a
// cancel flag).
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
  // What was computed: the method (FMA or a peer) and its configuration (a model's own),
  // the tokens, and for a model its name, layers and heads (a q/k/v file: one layer, its heads).
  FmaConfig fma;
  Method method = Method::fma;
  PeerOptions peer;
  std::int64_t tokens = 0;
  std::string source;  // e.g. "lm-fma (causal-lm, fma attention) on sample.txt"
  int layers = 0, heads = 0;
  // The model's input, for the query inspector: a text model's window (token i = text[i]),
  // or an image model's image fitted to its size (null otherwise).
  std::string text;
  std::shared_ptr<const Image> image;
};

// What the query inspector colours tokens or image patches by (panel_query.cpp).
enum class QueryColor { fma, full, level };

// The query inspector's own settings and the GL texture of the input image it shows.
struct QueryPanel {
  QueryColor color = QueryColor::fma;
  // A pooled map's query row, computed exactly from the job's inspector when chosen.
  std::shared_ptr<const Inspection> exact_row;
  std::shared_ptr<const Inspection> exact_of;  // the map it belongs to
  std::int64_t exact_index = -1;
  unsigned int image_texture = 0;              // 0 = none
  std::shared_ptr<const Image> texture_image;  // the image in image_texture
};

// The heads overview's worker, result cache and thumbnail textures (panel_heads.cpp).
struct HeadsPanel;
// The sweep view's results file, filters, selection and plot views (panel_sweep.cpp).
struct SweepPanel;
// The scaling view's benchmark rows and plot views (panel_scaling.cpp).
struct ScalingPanel;

// The main area's views (tabs; `fma-viewer --view`): the four maps, the query inspector, the
// heads overview, a sweep's results (r x p grid, Pareto front) and a scaling benchmark.
enum class View { attention, query, heads, sweep, scaling };
const char* to_string(View view);      // "attention" | "query" | "heads" | "sweep" | "scaling"
bool parse_view(const std::string& name, View* view);

struct ViewerState {
  DeviceInfo device;
  View view = View::attention;
  std::int64_t query_row = -1;  // the query chosen for the query inspector (-1: none)
  std::string status_error;     // the last error, shown in the status bar until dismissed
  std::string status_message;   // what the last open, save or export did (status bar)
  bool error_popup_pending = false;  // open the error popup on the next frame

  std::string model_path, input_path;  // the loaded model and input (empty: none)
  std::string qkv_path;                // the loaded q/k/v file (empty: none)
  MapParams params;  // as the controls show them
  MapScale scale = MapScale::log10;
  Colormap colormap = Colormap::standard;  // the probability maps' colours
  double log_floor = kLogFloor;            // log10 scale: the range shown is [10^floor, 1]
  bool recompute = false;  // the Recompute button was pressed
  MapViewport viewport;    // the four maps' shared zoom and pan
  // A zoom to show once the maps of the current settings are shown: rows r0, r1, columns
  // c0, c1 (--zoom, a session); r0 < 0: none, r0 = r1 = 0: the whole map.
  std::array<double, 4> initial_zoom{-1, -1, -1, -1};
  bool show_grid = true;   // overlay the hierarchy's fine blocks on the maps

  std::future<MapJob> pending;  // the worker's run, when one is under way
  MapParams pending_params;     // what it computes
  std::shared_ptr<WorkProgress> progress;  // its progress and cancel flag
  MapParams cancelled_params;   // a run of these was cancelled: not restarted until they change
  bool has_cancelled = false;
  std::future<MapTile> tile_pending;  // an exact tile being computed for a pooled map
  MapTile tile;                       // the latest tile (tile.of == shown.inspection to show)
  std::array<unsigned int, kMapCount> tile_textures{};
  FastPath fast_path;                        // as the sidebar sets it
  std::future<FastPathCheck> check_pending;  // the fast-path check being run
  FastPathCheck check;                       // the latest
  std::future<void> discarding; // the replaced run, being freed off the UI thread
  MapJob shown;                 // the latest finished run
  bool has_shown = false;
  std::array<unsigned int, kMapCount> textures{};  // GL textures of shown's maps (0 = none)
  int colors_of = -1;  // the Colormap whose colour table the GPU holds (-1: none yet)

  // A panel changed `view` (a click on a map or a head): the tab bar selects that tab on
  // the next frame and clears this (viewer_main.cpp).
  bool view_requested = false;
  QueryPanel query;
  std::shared_ptr<HeadsPanel> heads;  // created by the heads view when first drawn
  std::shared_ptr<SweepPanel> sweep;      // created when a sweep file is opened or the view drawn
  std::shared_ptr<ScalingPanel> scaling;  // likewise for a benchmark file
  FilesPanel files;  // the Open / Save / Export dialog and the settings (viewer_files.h)
};

// ---- viewer_files.cpp ----
// Exports the plot drawn with `view` as a PNG at `path`, cut from the window after the next
// frame (the plot as it is on screen).
void request_plot_png(ViewerState& state, const std::string& path, const PlotState& view);
// Writes the requested plot PNGs after a frame is rendered; the status bar says what was
// written (viewer_main.cpp calls it with the window's pixels).
void write_plot_pngs(ViewerState& state, int width, int height, const std::vector<std::uint8_t>& rgba);

// ---- panel_status.cpp ----
// Records an error: the status bar shows it and a popup opens once.
void report_error(ViewerState& state, const std::string& message);
// The error popup (call once a frame, inside the main window).
void draw_error_popup(ViewerState& state);
// One line: device, memory in use, the last run's time or progress, the last error.
void draw_status_bar(ViewerState& state);

// ---- panel_query.cpp ----
// The query inspector: one query's attention over keys under full attention and FMA, the
// level of each key and the mass per level; text tokens or the image coloured by attention.
void draw_query_view(ViewerState& state);
// Frees the query inspector's image texture (at exit, with the GL context alive).
void release_query(ViewerState& state);

// ---- panel_heads.cpp ----
// Every layer x head of the model as thumbnails ranked by approximation error; a click
// opens that head in the attention view.
void draw_heads_view(ViewerState& state);
// Whether the heads view is shown and its worker has not yet finished for the current
// model and input (a screenshot waits for it).
bool heads_busy(const ViewerState& state);
// Cancels and waits for the heads worker and frees the thumbnails' textures (at exit, with
// the GL context alive).
void release_heads(ViewerState& state);

// ---- panel_sweep.cpp ----
// Reads an `fmav sweep` results file (fmav/sweep.h) and shows it in the sweep view. Throws
// fmav::Error naming the file (the state is then unchanged).
void open_sweep_file(ViewerState& state, const std::string& path);
// The sweep view: a metric over the r x p grid as a heat map, error against latency and
// against peak memory with the Pareto front, and a sortable table; a selected point opens
// in the attention view.
// A synthetic sweep can be started from the view's form (run_sweep on a worker thread).
void draw_sweep_view(ViewerState& state);
// Whether a sweep started from the view is running.
bool sweep_busy(const ViewerState& state);
// Cancels the running sweep and waits for it (at exit).
void release_sweep(ViewerState& state);

// ---- panel_scaling.cpp ----
// Reads an `fmav bench --jsonl` results file (fmav/bench.h) and shows it in the scaling
// view. Throws fmav::Error naming the file (the state is then unchanged).
void open_bench_file(ViewerState& state, const std::string& path);
// The scaling view: median latency and peak memory against N per method (log-log) with
// reference slopes, out-of-memory markers and where FMA overtakes each other method.
// A benchmark can be started from the view's form (run_bench on a worker thread).
void draw_scaling_view(ViewerState& state);
// Whether a benchmark started from the view is running.
bool scaling_busy(const ViewerState& state);
// Cancels the running benchmark and waits for it (at exit).
void release_scaling(ViewerState& state);

// ---- maps_worker.cpp ----
// Lowers the calling worker thread's scheduling priority, so the engine's threads yield the
// cores to the UI thread: with both cores busy, frames waited for one (64 ms at n = 4096).
void lower_worker_priority();
// The last part of a path ("lm-fma" of "assets/models/lm-fma").
std::string file_name(const std::string& path);

// ---- panel_engine.cpp ----
// Draws where the engine runs: versions, threads, CUDA built/available and its summary.
void draw_engine_panel(const DeviceInfo& device);
// A cpu / cuda / auto combo setting *device; cuda is greyed out, its tooltip saying why,
// where it cannot run (and a stale cuda choice falls back to cpu).
void draw_device_combo(const char* label, Device* device);

// ---- panel_maps.cpp ----
// Draws the FMA settings; a change starts a new engine run on the worker thread.
void draw_map_controls(ViewerState& state);
// How map `kind` is coloured under the current scale, colormap and range (the GPU's shader
// and the PNG export use it).
MapShader map_shader(const ViewerState& state, MapKind kind);
// Draws full attention, FMA, their difference and the level map in a 2x2 grid with legends,
// the error metrics and a hover read-out; shows "computing..." or the engine's error.
void draw_map_views(ViewerState& state);
// Collects a finished run and starts the next one when the settings changed; call once a
// frame before drawing. Never blocks.
void update_maps(ViewerState& state);
// Whether a run is under way or the shown result does not yet match the settings.
bool maps_busy(const ViewerState& state);
// Asks the run under way to stop; the shown result stays until the settings change.
void cancel_maps(ViewerState& state);
// Whether an exact tile for the current zoom of a pooled map is being computed.
bool tile_busy(const ViewerState& state);
// Whether the fast-path check of the shown maps is under way or not yet started.
bool check_busy(const ViewerState& state);
// Waits for the worker and frees the map textures (at exit, with the GL context alive).
void release_maps(ViewerState& state);

}  // namespace fmav::viewer
