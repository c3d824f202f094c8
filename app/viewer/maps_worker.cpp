// The maps' worker (docs/DESIGN.md §5): one engine run per settings change on a std::async
// thread — a q/k/v file, the model's layer on its input, or the synthetic input — giving
// the maps' float data (pooled above kMaxMapSide), and exact tiles of what a zoomed-in view
// of a pooled map shows. The frame only polls the futures; the maps panel uploads finished
// data, and the colouring is the GPU's (shaders/maps.frag), so recolouring needs no run.

#include "maps_worker.h"
#include "hf_source.h"
#include "map_view.h"
#include "qkv_source.h"
#include "segment_view.h"
#include "shared.h"
#include "source_finite.h"
#include "viewer_device.h"

#include "fmav/attend.h"
#include "fmav/error.h"
#include "fmav/input.h"
#include "fmav/model.h"
#include "fmav/sample.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

namespace fmav::viewer {
namespace {

// The model of the last run, kept so that changing the layer or head does not reload it.
Model cached_model(const std::string& path) {
  static std::mutex mutex;
  static std::string cached_path;
  static Model cached;
  std::lock_guard<std::mutex> lock(mutex);
  if (cached.empty() || cached_path != path) cached = Model::load(path), cached_path = path;
  return cached;
}

}  // namespace

// Linux: per-thread nice, inherited by the threads the engine starts from this one.
void lower_worker_priority() { setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10); }

std::string file_name(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

namespace {

void set_options(const AttendOptions& options, HeadInput* in) {
  in->method = options.method, in->fma = options.fma, in->peer = options.peer;
}

// A Hugging Face model's layer on its input: the model's own q, k, v (its full map is the
// model's attention) under the sidebar's method, causal as the model is.
void load_hf_source(const MapParams& params, HeadInput* in, MapJob* job) {
  HfLayers hf = hf_layers(params, {params.layer});
  const HfConfig& c = hf.model->config();
  in->q = std::move(hf.q[0]), in->k = std::move(hf.k[0]), in->v = std::move(hf.v[0]);
  in->weights = hf.weights_of(params.layer);
  set_options(hf.options, in);
  in->head = std::clamp<std::int64_t>(params.head, 0, c.heads - 1);
  const HfTokens& t = *hf.tokens;
  job->tokens = t.count;
  job->layers = static_cast<int>(c.layers), job->heads = static_cast<int>(c.heads);
  job->source = file_name(params.model) + " (Hugging Face " + c.model_type + ", its own " +
                (hf.model->causal() ? "causal" : "bidirectional") + " attention) on " + file_name(params.input) +
                ", tokens " + std::to_string(params.offset) + "-" + std::to_string(params.offset + job->tokens) +
                " of " + std::to_string(t.total) + (hf.weights_note.empty() ? "" : "; " + hf.weights_note);
  job->pieces = t.pieces;
}

// A model's description before it runs, so that a run that fails on its input still says
// what it was asked: the model's name, its own attention and settings for the layer.
void describe_model(const MapParams& params, const ModelConfig& c, MapJob* job) {
  const AttendOptions own = layer_attend_options(c, std::clamp(params.layer, 0, static_cast<int>(c.layers) - 1));
  job->from_model = true;
  job->model_name = file_name(params.model);
  job->trained = own.method;
  job->method = own.method == Method::full ? Method::fma : own.method;
  job->fma = own.fma, job->peer = own.peer;
  job->layers = static_cast<int>(c.layers);
  job->heads = static_cast<int>(layer_heads(c, std::clamp(params.layer, 0, static_cast<int>(c.layers) - 1)));
}

// The source named by `params`: a q/k/v file, the model's layer on its input, or the
// synthetic input; fills the job's description of it.
HeadInput load_source(const MapParams& params, MapJob* job) {
  HeadInput in;
  if (!params.qkv.empty()) {
    const QkvSource source = qkv_source(params);
    const QkvTensors& t = *source.tensors;
    in.q = t.q, in.k = t.k, in.v = t.v, in.weights = source.weights;
    set_options(source.options, &in);
    in.head = std::clamp<std::int64_t>(params.head, 0, t.heads - 1);
    job->tokens = t.tokens, job->layers = 1, job->heads = static_cast<int>(t.heads);
    job->source = "q/k/v from " + file_name(params.qkv) + ", N = " + std::to_string(t.tokens) +
                  ", H = " + std::to_string(t.heads) + ", D = " + std::to_string(t.dim) +
                  (t.batch > 1 ? ", batch 0 of " + std::to_string(t.batch) : "");
  } else if (is_hf_folder(params.model)) {
    job->from_model = true, job->model_name = file_name(params.model), job->trained = Method::full;
    load_hf_source(params, &in, job);
  } else if (!params.model.empty()) {
    Model model = cached_model(params.model);
    describe_model(params, model.config(), job);
    if (params.model_fma_override) {  // FMA or a peer at a sweep point's settings
      ModelAttention a{AttentionKind::fma, params.block_size, params.rank, params.downsample,
                       params.count_multiplicity};
      parse_attention(to_string(params.method), &a);
      model = model.with_attention(a);
    }
    const ModelConfig& c = model.config();
    LayerCapture cap = capture_file(model.on_device(params.device), params.input, params.layer, params.offset);
    in.q = std::move(cap.q), in.k = std::move(cap.k), in.v = std::move(cap.v);
    in.fma = cap.fma, in.weights = std::move(cap.weights);
    in.method = cap.method, in.peer = cap.peer;
    const std::int64_t heads = in.q.shape[1];  // a segmenter's differ by stage
    in.head = std::clamp<std::int64_t>(params.head, 0, heads - 1);
    job->tokens = cap.tokens, job->layers = static_cast<int>(c.layers);
    job->heads = static_cast<int>(heads);
    job->source = file_name(params.model) + " (" + to_string(c.architecture) + ", " +
                  attention_name(c.attention) + " attention" +
                  (params.model_fma_override ? ", as in a sweep point" : "") + ") on " + file_name(params.input);
    // The input the model saw, for the query inspector's tokens or image.
    if (c.is_lm()) {
      job->text = std::move(cap.text);
    } else {
      job->image = std::make_shared<const Image>(std::move(cap.image));
    }
    if (c.is_segmenter()) {  // the block's stage, and the prediction and ground truth over the image
      const long long side = std::llround(std::sqrt(static_cast<double>(cap.tokens)));
      job->layer_name = "stage " + std::to_string(cap.stage) + ", block " + std::to_string(cap.block) + " (" +
                        std::to_string(side) + " x " + std::to_string(side) + ")";
      job->segments = std::make_shared<const SegmentView>(make_segment_view(model, *job->image, params.input,
                                                                            params.mask));
    }
  } else {
    FMAV_CHECK(params.n >= 1 && params.n <= kMaxTokens, "the viewer shows 1 to ", kMaxTokens,
               " tokens, got n = ", params.n);
    SampleQkv sample = sample_qkv(params.n, kHeadDim, params.seed);
    in.q = std::move(sample.q), in.k = std::move(sample.k), in.v = std::move(sample.v);
    set_options(source_options(params, params.n), &in);
    if (in.method == Method::fma && in.fma.downsample != Downsample::average) {  // average has no weights
      const int num_levels = make_levels(params.n, params.block_size).num_levels;
      in.weights = random_downsample_weights(in.fma, kHeadDim, num_levels, params.seed);
    }
    job->tokens = params.n;
    job->source = "synthetic input (sample_qkv), D = " + std::to_string(kHeadDim);
  }
  job->fma = in.fma, job->method = in.method, job->peer = in.peer;
  job->nonfinite = check_qkv_finite(in.q, in.k, in.v, qkv_names(params, params.layer));
  return in;
}

MapData make_data(const Inspection& in) {
  const std::size_t count = static_cast<std::size_t>(in.rows * in.cols);
  MapData data;
  std::vector<float> full(count), fma(count), diff(count);
  double prob_max = 0, limit = 0;
  for (std::size_t i = 0; i < count; ++i) {
    full[i] = static_cast<float>(in.full_map[i]);
    fma[i] = static_cast<float>(in.fma_map[i]);
    const double d = in.fma_map[i] - in.full_map[i];
    diff[i] = static_cast<float>(d);
    if (!std::isfinite(d)) {  // NaN or Inf from the source: marked, not part of the scales
      ++data.nonfinite_cells;
      continue;
    }
    prob_max = std::max({prob_max, in.full_map[i], in.fma_map[i]});
    limit = std::max(limit, std::abs(d));
  }
  const int w = static_cast<int>(in.cols), h = static_cast<int>(in.rows);
  data.values[kMapFull] = {w, h, mip_chain(std::move(full), w, h)};
  data.values[kMapFma] = {w, h, mip_chain(std::move(fma), w, h)};
  data.values[kMapDiff] = {w, h, mip_chain(std::move(diff), w, h)};
  data.level_codes.resize(count);
  for (std::size_t i = 0; i < count; ++i) data.level_codes[i] = static_cast<std::uint8_t>(in.level_map[i] + 1);
  data.prob_max = std::max(prob_max, 1e-12);
  data.diff_max = limit;
  data.diff_limit = std::max(limit, kDiffFloor);
  return data;
}

// One worker run: the source, the prepared head, its map (pooled above kMaxMapSide) and the
// GPU's data. A cancelled run returns with `cancelled` set and nothing else.
MapJob run_job(MapParams params, std::shared_ptr<WorkProgress> progress) {
  lower_worker_priority();
  MapJob job;
  job.params = params;
  const auto start = std::chrono::steady_clock::now();
  try {
    const auto input = std::make_shared<const HeadInput>(load_source(params, &job));
    const HeadInput& in = *input;
    job.input = input;
    InspectRequest request;
    request.head = in.head;
    request.pool = (job.tokens + kMaxMapSide - 1) / kMaxMapSide;
    request.device = params.device;
    request.progress = [&](std::int64_t done, std::int64_t total) {
      progress->fraction = 0.1 + 0.85 * static_cast<double>(done) / static_cast<double>(total);
      return !progress->cancel.load();
    };
    job.inspector = Inspector(in.q, in.k, in.v, in.options(), in.weights, request);
    job.device = job.inspector.device();
    job.device_text = maps_device_text(params.device, job.device, is_hf_folder(params.model));
    progress->fraction = 0.1;
    if (progress->cancel) throw Cancelled("cancelled");
    job.inspection = std::make_shared<const Inspection>(job.inspector.map(request));
    job.data = make_data(*job.inspection);
    progress->fraction = 1.0;
  } catch (const Cancelled&) {
    job = MapJob();
    job.params = params, job.cancelled = true;
  } catch (const Error& e) {
    job.error = e.what();
  } catch (const std::exception& e) {  // e.g. std::bad_alloc
    const std::string what = e.what();
    job.error = is_out_of_memory(e) ? "out of memory (" + what.substr(0, what.find('\n')) +
                                          "): try fewer tokens, or close other programs"
                                    : "internal error: " + what;
  }
  job.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return job;
}

MapTile run_tile(Inspector inspector, std::shared_ptr<const Inspection> of, MapTile tile) {
  lower_worker_priority();
  try {
    InspectRequest request;
    request.row_begin = tile.r0, request.row_end = tile.r1;
    request.col_begin = tile.c0, request.col_end = tile.c1;
    tile.inspection = std::make_shared<const Inspection>(inspector.map(request));
    tile.data = make_data(*tile.inspection);
  } catch (const std::exception& e) {
    tile.error = e.what();
  }
  tile.of = std::move(of);
  return tile;
}

// Largest n the dense reference implementation is run on (it holds n x n scores).
constexpr std::int64_t kMaxReferenceTokens = 4096;
constexpr int kCheckRuns = 3;

// The median time of kCheckRuns calls of `run` after one warm-up call.
template <typename Run>
double median_seconds(Run run) {
  run();
  std::vector<double> times;
  for (int i = 0; i < kCheckRuns; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// ||a - b|| / ||b|| of two float32/float64 tensors of one shape.
double relative_error(const HostTensor& a, const HostTensor& b) {
  const auto at = [](const HostTensor& x, std::int64_t i) {
    return x.dtype == DType::f64 ? x.f64()[i] : static_cast<double>(x.f32()[i]);
  };
  double diff = 0, norm = 0;
  for (std::int64_t i = 0; i < b.numel(); ++i) {
    diff += (at(a, i) - at(b, i)) * (at(a, i) - at(b, i));
    norm += at(b, i) * at(b, i);
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// The fast-path check (docs/DESIGN.md §5.5: every fast path against the float64 oracle):
// the chosen implementation of the shown variant on the shown head, its error against the
// inspector's float64 output, and its time beside full attention's (SDPA) in one dtype.
FastPathCheck run_check(std::shared_ptr<const HeadInput> input, Inspector inspector, FastPath settings,
                        std::shared_ptr<const Inspection> of) {
  lower_worker_priority();
  FastPathCheck check;
  check.settings = settings, check.of = std::move(of);
  try {
    const DType dtype = settings.f64 ? DType::f64 : DType::f32;
    const HostTensor q = head_of(input->q, 0, input->head, dtype), k = head_of(input->k, 0, input->head, dtype);
    const HostTensor v = head_of(input->v, 0, input->head, dtype);
    const std::int64_t n = q.shape[2];
    FMAV_CHECK(settings.impl != Impl::reference || n <= kMaxReferenceTokens, "the reference implementation holds ",
               "n x n scores; it is checked up to n = ", kMaxReferenceTokens, " (here n = ", n, ")");
    AttendOptions fma = input->options();
    fma.impl = settings.impl;
    fma.device = settings.device;
    HostTensor out;
    check.fma_seconds = median_seconds([&] { out = attend(q, k, v, fma, input->weights); });
    check.rel_error = relative_error(out, inspector.fma_output());
    AttendOptions full;
    full.method = Method::full, full.impl = Impl::sdpa, full.fma.causal = input->fma.causal;
    full.device = settings.device;
    check.full_seconds = median_seconds([&] { attend(q, k, v, full, {}); });
  } catch (const std::exception& e) {
    check.error = e.what();
  }
  return check;
}

void update_check(Shared& shared) {
  using namespace std::chrono_literals;
  MapsWorker& w = shared.maps;
  if (w.check_pending.valid()) {
    if (w.check_pending.wait_for(0s) != std::future_status::ready) return;
    w.check = w.check_pending.get();
  }
  // Timed alone: not while the maps or a tile are computed.
  if (!check_busy(shared) || w.pending.valid() || w.tile_pending.valid()) return;
  w.check_pending = std::async(std::launch::async, run_check, w.shown.input, w.shown.inspector, w.fast_path,
                               w.shown.inspection);
}

// Frees a replaced result on another thread: hundreds of MB at large n took 37 ms of a frame.
template <typename T>
void discard(MapsWorker& w, T&& old) {
  if (w.discarding.valid()) w.discarding.wait();
  w.discarding = std::async(std::launch::async, [old = std::forward<T>(old)]() mutable { old = T(); });
}

// The rectangle of tokens the viewport shows, widened by half a view on each side.
MapTile tile_for(const MapViewport& v) {
  const double dr = 0.5 * (v.y1 - v.y0), dc = 0.5 * (v.x1 - v.x0);
  MapTile t;
  t.r0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(v.y0 - dr)));
  t.r1 = std::min<std::int64_t>(v.rows, static_cast<std::int64_t>(std::ceil(v.y1 + dr)));
  t.c0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(v.x0 - dc)));
  t.c1 = std::min<std::int64_t>(v.cols, static_cast<std::int64_t>(std::ceil(v.x1 + dc)));
  return t;
}

// Whether a pooled map is zoomed in far enough for a tile and the current tile does not
// cover the view.
bool tile_wanted(const Shared& shared) {
  const MapsWorker& w = shared.maps;
  const Inspection* in = w.shown.inspection.get();
  const MapViewport& v = shared.viewport;
  if (in == nullptr || in->pool == 1 || w.shown.inspector.empty()) return false;
  if (v.y1 - v.y0 > kTileSpan || v.x1 - v.x0 > kTileSpan) return false;
  const MapTile& t = w.tile;
  const bool covered = t.of == w.shown.inspection && t.error.empty() && t.r0 <= std::floor(v.y0) &&
                       t.r1 >= std::ceil(v.y1) && t.c0 <= std::floor(v.x0) && t.c1 >= std::ceil(v.x1);
  return !covered;
}

void update_tile(Shared& shared) {
  using namespace std::chrono_literals;
  MapsWorker& w = shared.maps;
  if (w.tile_pending.valid()) {
    if (w.tile_pending.wait_for(0s) != std::future_status::ready) return;
    MapTile tile = w.tile_pending.get();
    if (tile.of != w.shown.inspection) return;  // the maps changed meanwhile
    if (!tile.error.empty()) report_error(shared, "exact tile: " + tile.error);
    discard(w, std::move(w.tile));
    w.tile = std::move(tile);
    ++w.tile_count;
    return;
  }
  if (!tile_wanted(shared) || !w.tile.error.empty()) return;
  w.tile_pending = std::async(std::launch::async, run_tile, w.shown.inspector, w.shown.inspection,
                              tile_for(shared.viewport));
}

// Makes `job` the shown run: the failed one's error is cleared, the replaced run freed off
// the UI thread, and the viewport fitted to new maps.
void show(Shared& shared, MapJob job) {
  MapsWorker& w = shared.maps;
  w.failed = MapJob(), w.has_failed = false;
  discard(w, std::move(w.shown));
  w.shown = std::move(job);
  w.has_shown = true;
  ++w.shown_count;
  const std::int64_t n = w.shown.inspection ? w.shown.tokens : 0;
  if (n > 0 && (n != shared.viewport.rows || n != shared.viewport.cols)) {
    shared.viewport.fit(n, n);  // in tokens, whatever the pooling
  }
}

// Takes a finished run: shows it (or keeps the shown one when it was cancelled).
void collect(Shared& shared, MapJob job) {
  MapsWorker& w = shared.maps;
  if (job.cancelled) {
    if (job.params == shared.params && !w.recompute) {
      w.has_cancelled = true;
      w.cancelled_params = job.params;
    }
    return;
  }
  if (!job.error.empty()) {
    // The status bar and the maps' header say it; no popup, which would take the clicks of
    // a user stepping through settings.
    shared.status_error = job.error;
    if (w.has_shown && w.shown.inspection) {  // the last good maps stay until new ones replace them
      w.failed = std::move(job);
      w.has_failed = true;
      return;
    }
  } else {
    shared.status_error.clear();  // a success makes an older error old news
    if (job.inspection) {  // maps: shown once the panel has uploaded them (adopt_arrived)
      if (w.has_arrived) discard(w, std::move(w.arrived));
      w.arrived = std::move(job);
      w.has_arrived = true;
      ++w.arrived_count;
      return;
    }
  }
  show(shared, std::move(job));
}

// Applies a pending zoom (--zoom, a session) once the maps it was meant for are shown.
void apply_initial_zoom(Shared& shared) {
  std::array<double, 4>& z = shared.initial_zoom;
  const MapsWorker& w = shared.maps;
  if (z[0] < 0 || !w.has_shown || w.shown.params != shared.params || !w.shown.inspection) return;
  if (z[1] > z[0]) {
    shared.viewport.show(z[0], z[1], z[2], z[3]);
  } else {
    shared.viewport.fit(shared.viewport.rows, shared.viewport.cols);
  }
  z = {-1, -1, -1, -1};
}

bool needs_run(const Shared& shared) {
  const MapsWorker& w = shared.maps;
  if (w.recompute) return true;
  if (w.has_arrived && w.arrived.params == shared.params) return false;
  if (w.has_shown && w.shown.params == shared.params) return false;
  if (w.has_failed && w.failed.params == shared.params) return false;
  return !(w.has_cancelled && w.cancelled_params == shared.params);
}

}  // namespace

void update_maps(Shared& shared) {
  using namespace std::chrono_literals;
  MapsWorker& w = shared.maps;
  if (w.pending.valid()) {
    if (w.pending.wait_for(0s) != std::future_status::ready) {
      // A newer change or Recompute: stop this run; the next frame starts the new one.
      if (shared.params != w.pending_params || w.recompute) w.progress->cancel = true;
      return;
    }
    collect(shared, w.pending.get());
  }
  apply_initial_zoom(shared);
  update_tile(shared);
  update_check(shared);
  if (!needs_run(shared)) return;
  w.recompute = false;
  w.has_cancelled = false;
  w.progress = std::make_shared<WorkProgress>();
  w.pending_params = shared.params;
  w.pending = std::async(std::launch::async, run_job, shared.params, w.progress);
}

void adopt_arrived(Shared& shared) {
  MapsWorker& w = shared.maps;
  if (!w.has_arrived) return;
  w.has_arrived = false;
  show(shared, std::move(w.arrived));
  w.arrived = MapJob();
}

bool maps_busy(const Shared& shared) {
  return shared.maps.pending.valid() || shared.maps.has_arrived || needs_run(shared);
}

std::string maps_error(const Shared& shared) {
  const MapsWorker& w = shared.maps;
  if (w.has_failed && w.failed.params == shared.params) return w.failed.error;
  if (w.has_shown && w.shown.params == shared.params) return w.shown.error;
  return "";
}

void cancel_maps(Shared& shared) {
  MapsWorker& w = shared.maps;
  if (!w.pending.valid() || !w.progress || w.progress->cancel) return;
  w.progress->cancel = true;
  shared.status_message = "cancelled the engine run";
}

bool tile_busy(const Shared& shared) {
  return shared.maps.tile_pending.valid() || (tile_wanted(shared) && shared.maps.tile.error.empty());
}

bool check_busy(const Shared& shared) {
  const MapsWorker& w = shared.maps;
  if (w.check_pending.valid()) return true;
  if (!w.shown.inspection || !w.shown.input) return false;
  return w.check.of != w.shown.inspection || w.check.settings != w.fast_path;
}

void release_maps(Shared& shared) {
  cancel_maps(shared);
  MapsWorker& w = shared.maps;
  if (w.pending.valid()) w.pending.wait();
  if (w.check_pending.valid()) w.check_pending.wait();
  if (w.tile_pending.valid()) w.tile_pending.wait();
  if (w.discarding.valid()) w.discarding.wait();
}

}  // namespace fmav::viewer
