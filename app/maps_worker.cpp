// The maps' worker (DESIGN.md §5): one engine run per settings change on a std::async
// thread — the model's layer on its input, or the synthetic input — coloured into RGBA
// images there; the frame only polls the future and uploads the finished images.

#include "colormap.h"
#include "platform_glfw.h"
#include "viewer_state.h"

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

// One engine run for `params`: the model's layer on its input, or the synthetic input.
std::shared_ptr<const Inspection> run_engine(const MapParams& params, MapJob* job) {
  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<const Inspection> result;
  if (!params.model.empty()) {
    const Model model = cached_model(params.model);
    const ModelConfig& c = model.config();
    const LayerCapture cap = capture_file(model, params.input, params.layer, params.offset);
    InspectRequest request;
    request.head = std::clamp<std::int64_t>(params.head, 0, c.heads - 1);
    result = std::make_shared<const Inspection>(inspect(cap.q, cap.k, cap.v, cap.fma, cap.weights, request));
    job->fma = cap.fma, job->tokens = cap.tokens, job->layers = static_cast<int>(c.layers);
    job->heads = static_cast<int>(c.heads);
    job->source = file_name(params.model) + " (" + to_string(c.architecture) + ", " +
                  attention_name(c.attention) + " attention) on " + file_name(params.input);
    // The input the model saw, for the query inspector's tokens or image.
    if (c.is_lm()) {
      job->text = cap.text;
    } else {
      job->image = std::make_shared<const Image>(cap.image);
    }
  } else {
    const FmaConfig config{params.block_size, params.rank, params.causal, params.downsample,
                           params.count_multiplicity};
    validate(config);
    const SampleQkv sample = sample_qkv(params.n, kHeadDim, params.seed);
    WeightSet weights;  // average down-sampling has no weights
    if (config.downsample != Downsample::average) {
      const int num_levels = make_levels(params.n, params.block_size).num_levels;
      weights = random_downsample_weights(config, kHeadDim, num_levels, params.seed);
    }
    result = std::make_shared<const Inspection>(
        inspect(sample.q, sample.k, sample.v, config, weights, InspectRequest{}));
    job->fma = config, job->tokens = params.n;
    job->source = "synthetic input (sample_qkv), D = " + std::to_string(kHeadDim);
  }
  job->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::array<MapImage, kMapCount> make_images(const Inspection& in, const MapJob& colors) {
  const MapScale scale = colors.scale;
  const std::size_t count = static_cast<std::size_t>(in.rows * in.cols);
  const std::int8_t* masked = in.level_map.data();
  const bool log10 = scale == MapScale::log10;
  double hi = 0;
  for (std::size_t i = 0; i < count; ++i) hi = std::max({hi, in.full_map[i], in.fma_map[i]});
  const double lo = log10 ? colors.log_floor : 0.0;
  hi = log10 ? 0.0 : std::max(hi, 1e-12);

  std::array<MapImage, kMapCount> images;
  for (MapImage& image : images) {
    image.width = static_cast<int>(in.cols);
    image.height = static_cast<int>(in.rows);
    image.rgba.resize(count * 4);
  }
  for (MapKind kind : {kMapFull, kMapFma}) {
    const double* values = kind == kMapFull ? in.full_map.data() : in.fma_map.data();
    colorize_sequential(values, count, lo, hi, log10, masked, images[kind].rgba.data(), colors.colormap);
    images[kind].lo = lo;
    images[kind].hi = hi;
  }
  std::vector<double> diff(count);
  double limit = 0;
  for (std::size_t i = 0; i < count; ++i) {
    diff[i] = in.fma_map[i] - in.full_map[i];
    limit = std::max(limit, std::abs(diff[i]));
  }
  colorize_diverging(diff.data(), count, limit, diff_decades(scale), masked,
                     images[kMapDiff].rgba.data());
  images[kMapDiff].lo = -limit;
  images[kMapDiff].hi = limit;
  colorize_levels(masked, count, images[kMapLevel].rgba.data());
  images[kMapLevel].lo = -1;
  images[kMapLevel].hi = in.num_levels;
  return images;
}

// One worker run: the engine (unless `reuse` already holds its numbers), then the images.
// `job` carries what a recolouring keeps from the run it reuses.
// The colouring (scale, colormap, log floor) comes in `job` too.
MapJob run_job(MapParams params, std::shared_ptr<const Inspection> reuse, MapJob job) {
  lower_worker_priority();
  job.params = params;
  try {
    if (!reuse) reuse = run_engine(params, &job);
    job.images = make_images(*reuse, job);
    job.inspection = std::move(reuse);
  } catch (const Error& e) {
    job.error = e.what();
  } catch (const std::exception& e) {
    job.error = std::string("internal error: ") + e.what();
  }
  return job;
}

void upload_textures(ViewerState& state) {
  for (int kind = 0; kind < kMapCount; ++kind) {
    const MapImage& image = state.shown.images[kind];
    unsigned int& texture = state.textures[kind];
    if (image.rgba.empty()) texture_destroy(texture);
    texture = image.rgba.empty()
                  ? 0
                  : texture_upload(texture, image.width, image.height, image.rgba.data());
  }
}

// Whether the shown images have the colouring the controls ask for.
bool same_colors(const ViewerState& state) {
  return state.shown.scale == state.scale && state.shown.colormap == state.colormap &&
         state.shown.log_floor == state.log_floor;
}

}  // namespace

void update_maps(ViewerState& state) {
  using namespace std::chrono_literals;
  if (state.pending.valid()) {
    if (state.pending.wait_for(0s) != std::future_status::ready) return;
    // The run being replaced holds hundreds of MB at large n; freeing it took 37 ms of a
    // frame at n = 4096, so it is dropped on another thread.
    MapJob old = std::move(state.shown);
    state.shown = state.pending.get();
    state.discarding = std::async(std::launch::async, [job = std::move(old)]() mutable { job = MapJob(); });
    state.has_shown = true;
    if (!state.shown.error.empty()) report_error(state, state.shown.error);
    const Inspection* in = state.shown.inspection.get();
    if (in != nullptr && (in->rows != state.viewport.rows || in->cols != state.viewport.cols)) {
      state.viewport.fit(in->rows, in->cols);
      const std::array<double, 4>& z = state.initial_zoom;
      if (z[0] >= 0) state.viewport.show(z[0], z[1], z[2], z[3]);
      state.initial_zoom = {-1, -1, -1, -1};
    }
    upload_textures(state);
  }
  const bool same_params = state.has_shown && state.shown.params == state.params;
  if (same_params && same_colors(state) && !state.recompute) return;
  // Only the colouring changed: recolour the numbers already computed.
  std::shared_ptr<const Inspection> reuse =
      same_params && !state.recompute ? state.shown.inspection : nullptr;
  state.recompute = false;
  MapJob kept;
  if (reuse) {
    kept.fma = state.shown.fma, kept.tokens = state.shown.tokens, kept.source = state.shown.source;
    kept.layers = state.shown.layers, kept.heads = state.shown.heads, kept.seconds = state.shown.seconds;
    kept.text = state.shown.text, kept.image = state.shown.image;
  }
  kept.scale = state.scale, kept.colormap = state.colormap, kept.log_floor = state.log_floor;
  state.pending = std::async(std::launch::async, run_job, state.params, reuse, kept);
}

bool maps_busy(const ViewerState& state) {
  return state.pending.valid() || state.recompute || !state.has_shown ||
         state.shown.params != state.params || !same_colors(state);
}

void release_maps(ViewerState& state) {
  if (state.pending.valid()) state.pending.wait();
  if (state.discarding.valid()) state.discarding.wait();
  for (unsigned int& texture : state.textures) {
    texture_destroy(texture);
    texture = 0;
  }
}

}  // namespace fmav::viewer
