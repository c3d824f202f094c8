// The heads overview: every layer x head of a model on its input, or every head of a q/k/v
// file (one layer) under the sidebar's FMA settings, as a thumbnail of the FMA map (or
// FMA - full) with its output error and mean row TV (docs/DESIGN.md §2), ranked so the
// heads FMA approximates worst come first. A model's forward pass captures every layer at
// once; the heads are then inspected one by one on a worker thread (§5) that reports
// progress through atomics and stops when cancelled. The frame only polls. The synthetic
// input has one head, which the attention view shows: the overview says so instead.

#include "panel_heads.h"
#include "colormap.h"
#include "hf_source.h"
#include "maps_worker.h"
#include "platform_glfw.h"
#include "qkv_source.h"
#include "shared.h"
#include "source_finite.h"
#include "text_wrap.h"
#include "viewer_device.h"

#include "fmav/engine.h"
#include "fmav/error.h"
#include "fmav/model.h"

#include <imgui.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <future>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace fmav::viewer {
namespace {

const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);
const ImVec4 kBusy(1.0f, 0.8f, 0.3f, 1.0f);
const ImVec4 kErrorColor(1.0f, 0.4f, 0.4f, 1.0f);
constexpr int kThumbSide = 96;            // thumbnails: maps max-pooled to at most 96 x 96
constexpr std::int64_t kThumbPool = 256;  // above kMaxMapSide tokens, maps of pooled block means
                                          // at most this side (a 16384^2 map is 2 GiB)
constexpr std::size_t kCacheSize = 8;     // results kept per source

// ---- worker (no ImGui, no GL) ----

bool is_qkv(const HeadsKey& key) { return !key.qkv.empty(); }

double mean_of(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return values.empty() ? 0.0 : sum / values.size();
}

HeadSummary summarize(const Inspection& in, int layer, int head) {
  HeadSummary s;
  s.layer = layer, s.head = head;
  s.output_rel_error = in.output_rel_error;
  s.mean_tv = mean_of(in.row_tv);
  s.mean_kl = mean_of(in.row_kl);
  s.side = static_cast<int>(std::min<std::int64_t>(kThumbSide, std::max(in.rows, in.cols)));
  const std::size_t cells = static_cast<std::size_t>(s.side) * s.side;
  s.fma.assign(cells, 0.0);
  s.diff.assign(cells, 0.0);
  s.masked.assign(cells, -1);
  for (std::int64_t r = 0; r < in.rows; ++r) {
    const std::size_t ti = static_cast<std::size_t>(r * s.side / in.rows) * s.side;
    for (std::int64_t c = 0; c < in.cols; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * in.cols + c);
      if (in.level_map[i] < 0) continue;
      const std::size_t t = ti + static_cast<std::size_t>(c * s.side / in.cols);
      const double d = in.fma_map[i] - in.full_map[i];
      s.masked[t] = 0;
      if (!std::isfinite(d) || std::isnan(s.fma[t])) {  // NaN or Inf met: the cell stays marked
        s.fma[t] = s.diff[t] = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      s.fma[t] = std::max(s.fma[t], in.fma_map[i]);
      if (std::abs(d) > std::abs(s.diff[t])) s.diff[t] = d;
    }
  }
  return s;
}

// Adds the summary of head `head` (batch 0) of q, k, v (n tokens). Above kMaxMapSide tokens
// the map is of pool x pool block means, at most kThumbPool a side, so memory stays bounded
// (summarize then takes the largest mean of each thumbnail cell). Throws fmav::Cancelled when
// asked to stop, between heads or within one.
void add_head(const HostTensor& q, const HostTensor& k, const HostTensor& v, const AttendOptions& options,
              const WeightSet& weights, int layer, int head, std::int64_t tokens,
              HeadsProgress& progress, HeadsResult* result) {
  if (progress.cancel) throw Cancelled("heads overview cancelled");
  InspectRequest request;
  request.head = head;
  request.device = result->key.device;
  if (tokens > kMaxMapSide) request.pool = (tokens + kThumbPool - 1) / kThumbPool;
  request.progress = [&progress](std::int64_t, std::int64_t) { return !progress.cancel.load(); };
  result->summaries.push_back(summarize(inspect(q, k, v, options, weights, request), layer, head));
  ++progress.done;
}

// Every layer x head of the model on its input (one forward pass), under the model's FMA.
void run_model_heads(const HeadsKey& key, HeadsProgress& progress, HeadsResult* result) {
  const Model model = Model::load(key.model);
  const ModelConfig& c = model.config();
  // A segmenter's heads differ by stage: heads is the most of any layer, the total their sum.
  result->layers = static_cast<int>(c.layers), result->heads = 0;
  progress.total = 0;
  for (int layer = 0; layer < result->layers; ++layer) {
    const int heads = static_cast<int>(layer_heads(c, layer));
    result->heads = std::max(result->heads, heads), progress.total += heads;
  }
  const std::vector<LayerCapture> captures = capture_file_layers(model.on_device(key.device), key.input, key.offset);
  for (int layer = 0; layer < static_cast<int>(captures.size()); ++layer) {
    const LayerCapture& cap = captures[static_cast<std::size_t>(layer)];
    check_qkv_finite(cap.q, cap.k, cap.v, qkv_names(key, layer));
  }
  for (int layer = 0; layer < static_cast<int>(captures.size()); ++layer) {
    const LayerCapture& cap = captures[static_cast<std::size_t>(layer)];
    result->tokens = std::max(result->tokens, cap.tokens);  // a segmenter's first stage has the most
    for (int h = 0; h < static_cast<int>(cap.q.shape[1]); ++h) {
      add_head(cap.q, cap.k, cap.v, cap.options(), cap.weights, layer, h, cap.tokens, progress, result);
    }
  }
}

// Layers of a Hugging Face model asked for at once: their q, k, v stay under this many bytes
// (each call runs the model from its first layer; one layer at a time is the least memory).
constexpr double kHfLayerBytes = 1.0 * (1 << 30);

// Every layer x head of a Hugging Face model on its input under the sidebar's method, causal as
// the model is:
// the layers' q, k, v a group at a time (HfModel::layer_qkv, no N x N maps), then each head.
void run_hf_heads(const HeadsKey& key, HeadsProgress& progress, HeadsResult* result) {
  const std::shared_ptr<const HfModel> model = load_hf_model(key.model);
  const HfConfig& c = model->config();
  result->layers = static_cast<int>(c.layers), result->heads = static_cast<int>(c.heads);
  progress.total = result->layers * result->heads;
  const std::int64_t n = load_hf_tokens(key, *model)->count;
  const double layer_bytes = 3.0 * 4.0 * static_cast<double>(c.heads * n * c.head_dim);
  const int group = std::max(1, static_cast<int>(kHfLayerBytes / layer_bytes));
  for (int first = 0; first < result->layers; first += group) {
    if (progress.cancel) throw Cancelled("heads overview cancelled");
    std::vector<int> layers;
    for (int l = first; l < std::min(result->layers, first + group); ++l) layers.push_back(l);
    const HfLayers hf = hf_layers(key, layers);
    result->tokens = n;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      check_qkv_finite(hf.q[i], hf.k[i], hf.v[i], qkv_names(key, layers[i]));
      for (int h = 0; h < result->heads; ++h) {
        add_head(hf.q[i], hf.k[i], hf.v[i], hf.options, hf.weights_of(layers[i]), layers[i], h, n, progress, result);
      }
    }
  }
}

// Every head of a q/k/v file (batch 0, as the attention view shows) under the sidebar's method.
void run_qkv_heads(const HeadsKey& key, HeadsProgress& progress, HeadsResult* result) {
  const QkvSource source = qkv_source(key);
  const QkvTensors& t = *source.tensors;
  check_qkv_finite(t.q, t.k, t.v, qkv_names(key, 0));
  result->layers = 1, result->heads = static_cast<int>(t.heads), result->tokens = t.tokens;
  progress.total = result->heads;
  for (int h = 0; h < result->heads; ++h) {
    add_head(t.q, t.k, t.v, source.options, source.weights, 0, h, t.tokens, progress, result);
  }
}

HeadsResult run_heads(HeadsKey key, std::shared_ptr<HeadsProgress> progress) {
  lower_worker_priority();
  const auto start = std::chrono::steady_clock::now();
  HeadsResult result;
  result.key = key;
  try {
    result.device_text = maps_device_text(key.device, resolve_device(key.device), is_hf_folder(key.model));
    if (is_qkv(key)) {
      run_qkv_heads(key, *progress, &result);
    } else if (is_hf_folder(key.model)) {
      run_hf_heads(key, *progress, &result);
    } else {
      run_model_heads(key, *progress, &result);
    }
  } catch (const Cancelled&) {
    result.cancelled = true;
  } catch (const Error& e) {
    result.error = e.what();
  } catch (const std::exception& e) {
    result.error = std::string("internal error: ") + e.what();
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

// ---- the worker's life (main thread) ----

// The source of `p`, with what it does not depend on left at MapParams' defaults: a model
// fixes its own FMA settings; a q/k/v file has no input or offset.
HeadsKey current_key(const MapParams& p) {
  HeadsKey key;
  key.device = p.device;
  if (!p.qkv.empty()) {
    key.qkv = p.qkv;
    key.block_size = p.block_size, key.rank = p.rank, key.causal = p.causal;
    key.downsample = p.downsample, key.count_multiplicity = p.count_multiplicity, key.seed = p.seed;
    key.method = p.method, key.hash_rounds = p.hash_rounds, key.shifted = p.shifted;
  } else {
    key.model = p.model, key.input = p.input, key.offset = p.offset;
  }
  if (is_hf_folder(p.model)) {  // compared under the sidebar's method, as a q/k/v file
    key.block_size = p.block_size, key.rank = p.rank;
    key.downsample = p.downsample, key.count_multiplicity = p.count_multiplicity, key.seed = p.seed;
    key.method = p.method, key.hash_rounds = p.hash_rounds, key.shifted = p.shifted;
  }
  return key;
}

// Whether the source has heads to overview: a model or a q/k/v file, not the synthetic input.
bool has_heads(const MapParams& params) { return !params.model.empty() || !params.qkv.empty(); }

void start(HeadsPanel& h, const HeadsKey& key) {
  h.progress = std::make_shared<HeadsProgress>();
  h.pending_key = key;
  h.attempted = true;
  h.attempted_key = key;
  h.pending = std::async(std::launch::async, run_heads, key, h.progress);
}

std::shared_ptr<const HeadsResult> cached(const HeadsPanel& h, const HeadsKey& key) {
  for (const auto& result : h.cache) {
    if (result->key == key) return result;
  }
  return nullptr;
}

// Collects a finished run, cancels one for an input no longer chosen and starts the run the
// current input needs (once: an error or a cancel waits for the Compute button).
void update_heads(Shared& shared, HeadsPanel& h) {
  using namespace std::chrono_literals;
  const HeadsKey key = current_key(shared.params);
  if (h.pending.valid() && h.pending.wait_for(0s) == std::future_status::ready) {
    auto result = std::make_shared<const HeadsResult>(h.pending.get());
    // A run for an input no longer chosen was cancelled; its error, if any, is stale too.
    if (!result->error.empty() && result->key == key)
      report_error(shared, "heads overview: " + result->error);
    if (result->error.empty() && !result->cancelled) {
      h.cache.push_back(result);
      if (h.cache.size() > kCacheSize) h.cache.erase(h.cache.begin());
    }
    if (result->key == key) h.shown = result;
  }
  if (h.pending.valid() && h.pending_key != key) h.progress->cancel = true;
  if (h.shown && h.shown->key != key) h.shown = nullptr;
  if (h.pending.valid() || h.shown) return;
  h.shown = cached(h, key);
  if (!h.shown && (!h.attempted || h.attempted_key != key)) start(h, key);
}

// ---- thumbnails (main thread: GL) ----

void free_textures(HeadsPanel& h) {
  for (unsigned int& texture : h.textures) texture_destroy(texture);
  h.textures.clear();
  h.textures_of.reset();
}

// Colours and uploads the shown result's thumbnails when it or the colouring changed.
void update_textures(HeadsPanel& h, const MapColors& colors) {
  const MapScale scale = colors.scale;
  const std::shared_ptr<const HeadsResult> result =
      h.shown && h.shown->error.empty() && !h.shown->cancelled ? h.shown : nullptr;
  if (result == h.textures_of && h.show_diff == h.textures_diff && colors == h.textures_colors) return;
  if (!result) return free_textures(h);
  h.diff_limit = 0;
  for (const HeadSummary& s : result->summaries) {
    for (double d : s.diff) h.diff_limit = std::max(h.diff_limit, std::abs(d));
  }
  std::vector<std::uint8_t> rgba;
  while (h.textures.size() > result->summaries.size()) {
    texture_destroy(h.textures.back());
    h.textures.pop_back();
  }
  h.textures.resize(result->summaries.size(), 0);
  for (std::size_t i = 0; i < result->summaries.size(); ++i) {
    const HeadSummary& s = result->summaries[i];
    const std::size_t count = s.fma.size();
    rgba.resize(count * 4);
    const bool log10 = scale == MapScale::log10;
    if (h.show_diff) {
      colorize_diverging(s.diff.data(), count, h.diff_limit, log10 ? kDiffDecades : 0,
                         s.masked.data(), rgba.data());
    } else {
      double hi = 1e-12;
      for (double x : s.fma) hi = std::isfinite(x) ? std::max(hi, x) : hi;
      colorize_sequential(s.fma.data(), count, log10 ? colors.log_floor : 0.0, log10 ? 0.0 : hi, log10,
                          s.masked.data(), rgba.data(), colors.colormap);
    }
    for (std::size_t j = 0; j < count; ++j) {  // NaN / Inf cells in the maps' marked colour
      if (!std::isnan(s.fma[j])) continue;
      const Rgba8 c = kNonFiniteColor;
      rgba[j * 4] = c.r, rgba[j * 4 + 1] = c.g, rgba[j * 4 + 2] = c.b, rgba[j * 4 + 3] = c.a;
    }
    h.textures[i] = texture_upload(h.textures[i], s.side, s.side, rgba.data());
  }
  h.textures_of = result, h.textures_colors = colors, h.textures_diff = h.show_diff;
}

// ---- drawing ----

std::vector<std::size_t> ranking(const HeadsResult& result, HeadsOrder order) {
  std::vector<std::size_t> index(result.summaries.size());
  std::iota(index.begin(), index.end(), std::size_t{0});
  if (order == HeadsOrder::layer_head) return index;
  const auto metric = [&](std::size_t i) {  // a head whose metric is undefined (NaN) ranks first
    const HeadSummary& s = result.summaries[i];
    const double m = order == HeadsOrder::output_error ? s.output_rel_error : s.mean_tv;
    return std::isnan(m) ? std::numeric_limits<double>::infinity() : m;
  };
  std::stable_sort(index.begin(), index.end(),
                   [&](std::size_t a, std::size_t b) { return metric(a) > metric(b); });
  return index;
}

void draw_color_scale(const HeadsPanel& h, const MapColors& colors, float width) {
  const MapScale scale = colors.scale;
  constexpr int kSegments = 40;
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  for (int i = 0; i < kSegments; ++i) {
    const float t = (i + 0.5f) / kSegments;
    const Rgba8 c = h.show_diff ? diverging_color(2 * t - 1) : sequential_color(t, colors.colormap);
    draw->AddRectFilled(ImVec2(p.x + width * i / kSegments, p.y + 3),
                        ImVec2(p.x + width * (i + 1) / kSegments, p.y + 15),
                        IM_COL32(c.r, c.g, c.b, 255));
  }
  ImGui::Dummy(ImVec2(width, 16));
  ImGui::SameLine();
  const bool log10 = scale == MapScale::log10;
  if (h.show_diff) {
    ImGui::TextColored(kMuted, "FMA - full, -%.1e .. +%.1e (all heads; %s)", h.diff_limit,
                       h.diff_limit, log10 ? "symmetric log" : "linear");
  } else {
    if (log10) {
      ImGui::TextColored(kMuted, "FMA probability, 1e%.0f .. 1 (log10)", colors.log_floor);
    } else {
      ImGui::TextColored(kMuted, "FMA probability, 0 .. each head's max");
    }
  }
}

// Map toggle, order, progress or state, and the Cancel / Compute buttons.
void draw_controls(const Shared& shared, HeadsPanel& h) {
  ImGui::TextUnformatted("map");
  ImGui::SameLine();
  if (ImGui::RadioButton("FMA", !h.show_diff)) h.show_diff = false;
  ImGui::SameLine();
  if (ImGui::RadioButton("FMA - full", h.show_diff)) h.show_diff = true;
  ImGui::SameLine(0, 30);
  ImGui::TextUnformatted("sort by");
  ImGui::SameLine();
  const char* orders[] = {"output error", "mean row TV", "layer / head"};
  int order = static_cast<int>(h.order);
  ImGui::PushItemWidth(150);
  if (ImGui::Combo("##order", &order, orders, 3)) h.order = static_cast<HeadsOrder>(order);
  ImGui::PopItemWidth();
  ImGui::SameLine(0, 30);
  if (h.pending.valid()) {
    const int done = h.progress->done, total = h.progress->total;
    const bool qkv = is_qkv(h.pending_key);
    if (done == 0 && (total == 0 || !qkv)) {
      ImGui::TextColored(kBusy, qkv ? "reading the q/k/v file..." : "running the model on every layer...");
    } else {
      ImGui::TextColored(kBusy, "head %d of %d", std::min(done + 1, total), total);
    }
    ImGui::SameLine();
    if (h.progress->cancel) {
      ImGui::TextColored(kMuted, "cancelling...");
    } else if (ImGui::Button("Cancel")) {
      h.progress->cancel = true;
    }
    return;
  }
  const HeadsResult* r = h.shown.get();
  if (r && r->cancelled) ImGui::TextColored(kMuted, "cancelled");
  if (r && !r->error.empty()) ImGui::TextColored(kErrorColor, "engine error");
  if (r && r->error.empty() && !r->cancelled) {
    ImGui::TextColored(kMuted, "%d heads in %.2f s, %s", static_cast<int>(r->summaries.size()),
                       r->seconds, r->device_text.c_str());
  }
  ImGui::SameLine();
  if (ImGui::Button(r && r->error.empty() && !r->cancelled ? "Recompute" : "Compute")) {
    h.cache.erase(std::remove(h.cache.begin(), h.cache.end(), h.shown), h.cache.end());
    h.shown = nullptr;
    start(h, current_key(shared.params));
  }
}

// One thumbnail with its label; a click opens the head in the attention view (a q/k/v file
// has one layer: its head alone is named and chosen).
void draw_thumbnail(Shared& shared, const HeadsPanel& h, std::size_t i, int rank, float thumb) {
  const HeadSummary& s = h.shown->summaries[i];
  const bool qkv = is_qkv(h.shown->key);
  const std::string name = qkv ? "head " + std::to_string(s.head)
                               : "layer " + std::to_string(s.layer) + "  head " + std::to_string(s.head);
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(h.textures[i])),
               ImVec2(thumb, thumb));
  const bool current = shared.params.head == s.head && (qkv || shared.params.layer == s.layer);
  ImDrawList* draw = ImGui::GetWindowDrawList();
  if (ImGui::IsItemHovered()) {
    draw->AddRect(ImVec2(p.x - 2, p.y - 2), ImVec2(p.x + thumb + 2, p.y + thumb + 2),
                  IM_COL32(255, 255, 255, 255), 0, 0, 2);
    ImGui::SetTooltip("%s\noutput rel. error %s\nmean row TV %s\nmean KL %s\nclick: open in the attention view",
                      name.c_str(), value_text("%.3e", s.output_rel_error).c_str(),
                      value_text("%.3e", s.mean_tv).c_str(), value_text("%.3e", s.mean_kl).c_str());
  } else if (current) {
    draw->AddRect(ImVec2(p.x - 2, p.y - 2), ImVec2(p.x + thumb + 2, p.y + thumb + 2),
                  IM_COL32(255, 150, 40, 255), 0, 0, 2);
  }
  if (ImGui::IsItemClicked(ImGuiMouseButton_Left)) {
    if (!qkv) shared.params.layer = s.layer;
    shared.params.head = s.head;
    shared.view = View::attention;
    shared.view_requested = true;
  }
  ImGui::TextUnformatted(name.c_str());
  if (rank > 0) {
    ImGui::SameLine();
    ImGui::TextColored(kMuted, "#%d", rank);
  }
  ImGui::TextColored(kMuted, "err %s  TV %s", value_text("%.2e", s.output_rel_error).c_str(),
                     value_text("%.2e", s.mean_tv).c_str());
}

void draw_grid(Shared& shared, HeadsPanel& h) {
  const HeadsResult& r = *h.shown;
  if (r.summaries.empty() || h.textures.size() != r.summaries.size()) return;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float text_h = 2 * ImGui::GetTextLineHeightWithSpacing() + 14;
  // A row per layer when its heads fit in cells as wide as a label; more heads (a q/k/v file,
  // a Hugging Face model's 12 to 64) wrap, so labels never overlap.
  const float min_cell = ImGui::CalcTextSize("err 0.00e-00  TV 0.00e-00").x + 24;
  const int columns = std::clamp(static_cast<int>(avail.x / min_cell), 1, std::max(1, r.heads));
  const int rows = (static_cast<int>(r.summaries.size()) + columns - 1) / columns;
  const float cell_w = avail.x / columns;
  const float thumb = std::clamp(std::min(cell_w - 24, avail.y / rows - text_h), 64.0f, 256.0f);
  const std::vector<std::size_t> order = ranking(r, h.order);
  ImGui::BeginChild("thumbnails", ImVec2(0, 0), false);
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (k % columns != 0) ImGui::SameLine(cell_w * (k % columns));
    ImGui::BeginGroup();
    draw_thumbnail(shared, h, order[k],
                   h.order == HeadsOrder::layer_head ? 0 : static_cast<int>(k) + 1, thumb);
    ImGui::EndGroup();
  }
  ImGui::EndChild();
}

}  // namespace

// ---- public ----

void draw_heads_view(Shared& shared, HeadsPanel& h) {
  if (!has_heads(shared.params)) {
    if (h.pending.valid()) h.progress->cancel = true;
    text_wrapped(
        "The synthetic input has one head, which the attention view shows. The heads overview "
        "compares every head: every layer and head of a model on its input, or every head of a "
        "q/k/v file under the FMA settings. Choose \"model\" or \"q/k/v file\" under Input "
        "(or start fma-viewer with --model or --qkv).");
    return;
  }
  update_heads(shared, h);
  update_textures(h, shared.colors);
  const HeadsResult* r = h.shown.get();
  if (r && r->layers > 0 && is_qkv(r->key)) {
    ImGui::Text("%d heads, n = %lld", r->heads, static_cast<long long>(r->tokens));
    ImGui::SameLine(0, 20);
  } else if (r && r->layers > 0) {
    ImGui::Text("%d layers x %d heads, n = %lld", r->layers, r->heads,
                static_cast<long long>(r->tokens));
    ImGui::SameLine(0, 20);
  }
  ImGui::TextColored(kMuted, "%s", shared.maps.shown.source.c_str());
  draw_controls(shared, h);
  if (r && !r->error.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
    text_wrapped("%s", r->error.substr(0, r->error.find('\n')).c_str());
    ImGui::PopStyleColor();
  }
  if (!h.textures_of) return;
  draw_color_scale(h, shared.colors, 200);
  ImGui::Spacing();
  draw_grid(shared, h);
}

bool heads_busy(const Shared& shared, const HeadsPanel& h) {
  if (shared.view != View::heads || !has_heads(shared.params)) return false;
  return h.pending.valid() || !h.shown || h.shown->key != current_key(shared.params);
}

void release_heads(HeadsPanel& h) {
  if (h.pending.valid()) {
    h.progress->cancel = true;
    h.pending.wait();
  }
  free_textures(h);
}

}  // namespace fmav::viewer
