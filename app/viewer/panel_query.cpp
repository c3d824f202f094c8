// The query inspector (docs/DESIGN.md §2, "The attention map at full resolution"): one query row
// of the shown layer and head under full attention and FMA — a plot over the keys, the level
// that covers each key, the mass per level and the row's error metrics — and the model's
// input coloured by that row: text tokens, or the image's patches with the FMA2D fine cells
// (§4). It draws from the shown result only; the engine is never called here.

#include "panel_query.h"
#include "colormap.h"
#include "hf_source.h"
#include "method_labels.h"
#include "platform_glfw.h"
#include "query_row.h"
#include "segment_view.h"
#include "shared.h"
#include "source_finite.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace fmav::viewer {
namespace {

const ImVec4 kMuted(0.65f, 0.65f, 0.68f, 1.0f);
const ImVec4 kBusy(1.0f, 0.8f, 0.3f, 1.0f);
const ImVec4 kErrorColor(1.0f, 0.4f, 0.4f, 1.0f);
const ImU32 kFullColor = IM_COL32(110, 170, 255, 150);  // full attention: bars
const ImU32 kFmaColor = IM_COL32(255, 150, 40, 255);    // FMA: a step line over them
const ImU32 kQueryColor = IM_COL32(255, 60, 60, 255);
const ImU32 kAxisColor = IM_COL32(150, 150, 158, 255);
const ImU32 kGridColor = IM_COL32(90, 90, 98, 110);

ImU32 to_imu32(Rgba8 c, int alpha = 255) { return IM_COL32(c.r, c.g, c.b, alpha); }

std::string format_value(const char* fmt, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), fmt, value);
  return text;
}


// The inspection holding query `row` unpooled: the shown map, or for a pooled map (n over
// kMaxMapSide) the row computed from the job's inspector (a few ms), kept until it changes.
const Inspection& exact_row(const MapJob& shown, QueryPanel& q, std::int64_t row, std::int64_t* at) {
  const Inspection& in = *shown.inspection;
  *at = in.pool == 1 ? row : 0;
  if (in.pool == 1) return in;
  if (q.exact_of != shown.inspection || q.exact_index != row || !q.exact_row) {
    InspectRequest request;
    request.row_begin = row, request.row_end = row + 1;
    q.exact_row = std::make_shared<const Inspection>(shown.inspector.map(request));
    q.exact_of = shown.inspection, q.exact_index = row;
  }
  return *q.exact_row;
}

QueryRow row_of(const Shared& shared, QueryPanel& query, std::int64_t row) {
  QueryRow r;
  const MapJob& shown = shared.maps.shown;
  r.in = shown.inspection.get();
  r.exact = &exact_row(shown, query, row, &r.at);
  r.job = &shown, r.row = row, r.cols = r.exact->cols, r.scale = shared.colors.scale;
  r.map = shared.colors.colormap, r.floor = shared.colors.log_floor;
  const std::size_t first = static_cast<std::size_t>(r.at * r.exact->cols);
  r.full = r.exact->full_map.data() + first;
  r.fma = r.exact->fma_map.data() + first;
  r.level = r.exact->level_map.data() + first;
  r.hi = 1e-12;
  for (std::int64_t k = 0; k < r.cols; ++k) r.hi = std::max({r.hi, r.full[k], r.fma[k]});
  return r;
}

// The chosen query, or the default: the last row (causal, it sees every key) else the middle.
std::int64_t query_row(const Shared& shared) {
  const std::int64_t rows = shared.maps.shown.tokens;
  if (shared.query_row >= 0) return std::min(shared.query_row, rows - 1);
  return shared.maps.shown.fma.causal ? rows - 1 : rows / 2;
}

// Where a probability falls on the y axis and the colour scale, in [0, 1].
float position(double p, const QueryRow& r) {
  if (r.scale == MapScale::linear) return static_cast<float>(std::clamp(p / r.hi, 0.0, 1.0));
  const double e = std::log10(std::max(p, std::pow(10.0, r.floor)));
  return static_cast<float>(std::clamp((e - r.floor) / -r.floor, 0.0, 1.0));
}

// What a key is: a byte of the text, a patch of the image, or an index.
std::string key_name(const QueryRow& r, std::int64_t key) {
  const FmaConfig& f = r.job->fma;
  const std::string& text = r.job->text;
  const long long k = static_cast<long long>(key);
  char name[64];
  if (f.is_2d() && f.grid_width > 0) {
    std::snprintf(name, sizeof(name), "patch %lld (row %lld, col %lld)", k, k / f.grid_width,
                  k % f.grid_width);
  } else if (key < static_cast<std::int64_t>(r.job->pieces.size())) {  // a Hugging Face model's token
    const std::string piece = piece_label(r.job->pieces[static_cast<std::size_t>(key)]);
    return "token " + std::to_string(k) + " '" + piece.substr(0, 40) + "'";
  } else if (key < static_cast<std::int64_t>(text.size())) {
    const auto byte = static_cast<unsigned char>(text[static_cast<std::size_t>(key)]);
    std::snprintf(name, sizeof(name),
                  byte >= 32 && byte < 127 ? "token %lld '%c'" : "token %lld (byte 0x%02X)", k,
                  byte);
  } else {
    std::snprintf(name, sizeof(name), "key %lld", k);
  }
  return name;
}


// ---- the plot over keys ----

// A bucket of keys drawn at one x: one key, or (more keys than pixels) a run of them.
struct Bucket {
  std::int64_t first = 0, last = 0;  // keys [first, last)
};

Bucket bucket(std::int64_t b, std::int64_t buckets, std::int64_t cols) {
  return {b * cols / buckets, std::max(b * cols / buckets + 1, (b + 1) * cols / buckets)};
}

// The largest unmasked value of a bucket; false when every key in it is masked.
bool bucket_max(const QueryRow& r, const double* values, Bucket k, double* out) {
  bool any = false;
  for (std::int64_t key = k.first; key < k.last; ++key) {
    if (r.level[key] < 0) continue;
    *out = any ? std::max(*out, values[key]) : values[key];
    any = true;
  }
  return any;
}

void draw_axes(ImDrawList* draw, ImVec2 p0, ImVec2 p1, const QueryRow& r) {
  const float h = p1.y - p0.y;
  const int ticks = r.scale == MapScale::log10 ? static_cast<int>(-r.floor) : 4;
  for (int i = 0; i <= ticks; ++i) {
    const float y = p1.y - h * i / ticks;
    draw->AddLine(ImVec2(p0.x, y), ImVec2(p1.x, y), kGridColor);
    const std::string label = r.scale == MapScale::log10
                                  ? (i == ticks ? "1" : format_value("1e%.0f", r.floor + i))
                                  : format_value("%.2g", r.hi * i / ticks);
    const ImVec2 size = ImGui::CalcTextSize(label.c_str());
    const float top = i == 0 ? y - size.y : i == ticks ? y : y - 0.5f * size.y;  // inside the frame
    draw->AddText(ImVec2(p0.x - size.x - 6, top), kAxisColor, label.c_str());
  }
  draw->AddRect(p0, p1, kAxisColor);
}

// Key labels under the plot at round steps (1, 2, 5 x 10^k), about one per 90 pixels.
void draw_key_ticks(ImDrawList* draw, float x0, float width, float y, std::int64_t cols) {
  const double want = cols / std::max(1.0, width / 90.0);
  const double base = std::pow(10.0, std::floor(std::log10(std::max(1.0, want))));
  double step = 10 * base;
  for (double f : {5.0, 2.0, 1.0}) {
    if (base * f >= want) step = base * f;
  }
  for (std::int64_t key = 0; key < cols;
       key += std::max<std::int64_t>(1, static_cast<std::int64_t>(step))) {
    const float x = x0 + width * (key + 0.5f) / cols;
    const std::string label = std::to_string(key);
    draw->AddLine(ImVec2(x, y), ImVec2(x, y + 4), kAxisColor);
    draw->AddText(ImVec2(x - 0.5f * ImGui::CalcTextSize(label.c_str()).x, y + 4), kAxisColor,
                  label.c_str());
  }
}

// Full attention as bars and FMA as a step line over them, bucket by bucket.
void draw_series(ImDrawList* draw, ImVec2 p0, ImVec2 p1, const QueryRow& r) {
  const float w = p1.x - p0.x, h = p1.y - p0.y;
  const std::int64_t buckets = std::min<std::int64_t>(r.cols, std::max(1, static_cast<int>(w)));
  std::vector<ImVec2> line;
  const auto flush = [&] {
    if (line.size() >= 2)
      draw->AddPolyline(line.data(), static_cast<int>(line.size()), kFmaColor, 0, 1.5f);
    line.clear();
  };
  for (std::int64_t b = 0; b < buckets; ++b) {
    const float x0 = p0.x + w * b / buckets, x1 = p0.x + w * (b + 1) / buckets;
    double full = 0, fma = 0;
    const Bucket k = bucket(b, buckets, r.cols);
    if (!bucket_max(r, r.fma, k, &fma)) {
      flush();
      continue;
    }
    bucket_max(r, r.full, k, &full);
    const float bar = p1.y - h * position(full, r);
    draw->AddRectFilled(ImVec2(x0 + (x1 - x0 > 3 ? 0.5f : 0.0f), bar), ImVec2(x1, p1.y),
                        kFullColor);
    const float y = p1.y - h * position(fma, r);
    line.push_back(ImVec2(x0, y));
    line.push_back(ImVec2(x1, y));
  }
  flush();
}

// "[bar] full attention  [line] FMA" (or the peer's name) in the plot's top right corner.
void draw_legend(ImDrawList* draw, ImVec2 top_right, const char* method) {
  const ImU32 text = IM_COL32(230, 230, 235, 255);
  float x = top_right.x - 8 - ImGui::CalcTextSize(method).x;
  const float y = top_right.y + 4, mid = y + 0.5f * ImGui::GetTextLineHeight();
  draw->AddText(ImVec2(x, y), text, method);
  draw->AddLine(ImVec2(x - 20, mid), ImVec2(x - 6, mid), kFmaColor, 2.0f);
  x -= 34 + ImGui::CalcTextSize("full attention").x;
  draw->AddText(ImVec2(x, y), text, "full attention");
  draw->AddRectFilled(ImVec2(x - 20, mid - 6), ImVec2(x - 6, mid + 6), kFullColor);
}

// The plot, the level strip under it and the key axis; `height` covers all three.
void draw_plot(const QueryRow& r, float height) {
  const float left = 56, strip = 12, axis = ImGui::GetTextLineHeight() + 8;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float width = ImGui::GetContentRegionAvail().x;
  const ImVec2 p0(origin.x + left, origin.y + 4);
  const ImVec2 p1(origin.x + width - 8, origin.y + height - strip - axis - 6);
  ImDrawList* draw = ImGui::GetWindowDrawList();
  draw_axes(draw, p0, p1, r);
  draw_series(draw, p0, p1, r);
  const float pw = p1.x - p0.x;
  const auto key_x = [&](std::int64_t key) { return p0.x + pw * (key + 0.5f) / r.cols; };
  if (r.row < r.cols) {  // the query's own key (self-attention: same index)
    draw->AddLine(ImVec2(key_x(r.row), p0.y), ImVec2(key_x(r.row), p1.y), kQueryColor, 1.0f);
  }
  const float s0 = p1.y + 4, s1 = s0 + strip;
  const std::int64_t buckets = std::min<std::int64_t>(r.cols, std::max(1, static_cast<int>(pw)));
  for (std::int64_t b = 0; b < buckets; ++b) {
    const Bucket k = bucket(b, buckets, r.cols);
    const int level = r.level[(k.first + k.last - 1) / 2];
    draw->AddRectFilled(ImVec2(p0.x + pw * b / buckets, s0),
                        ImVec2(p0.x + pw * (b + 1) / buckets, s1),
                        to_imu32(level < 0 ? kMaskedColor : level_color(level)));
  }
  draw->AddText(ImVec2(origin.x + 4, s0 + 0.5f * (strip - ImGui::GetTextLineHeight())), kAxisColor,
                "level");
  draw->AddText(ImVec2(origin.x + 4, p0.y), kAxisColor, "P");
  draw_key_ticks(draw, p0.x, pw, s1 + 2, r.cols);
  draw_legend(draw, ImVec2(p1.x, p0.y), method_title(r.job->method));
  ImGui::InvisibleButton("plot", ImVec2(width, height));
  if (ImGui::IsItemHovered()) {
    const float mx = ImGui::GetIO().MousePos.x;
    if (mx >= p0.x && mx < p1.x) {
      const auto key = std::clamp<std::int64_t>(
          static_cast<std::int64_t>((mx - p0.x) / pw * r.cols), 0, r.cols - 1);
      draw->AddLine(ImVec2(key_x(key), p0.y), ImVec2(key_x(key), s1), IM_COL32(255, 255, 255, 120));
      key_tooltip(r, key);
    }
  }
}

// ---- mass per level and the row's metrics ----

void draw_level_mass(const QueryRow& r) {
  const Inspection& in = *r.in;
  const std::size_t levels = static_cast<std::size_t>(in.num_levels) + 1;
  std::vector<double> full_mass(levels, 0.0);
  for (std::int64_t k = 0; k < r.cols; ++k) {
    if (r.level[k] >= 0) full_mass[static_cast<std::size_t>(r.level[k])] += r.full[k];
  }
  ImGui::TextUnformatted("Mass per level");
  ImGui::TextColored(kMuted, "bar: %s, outline: full attention on the same keys", method_title(r.job->method));
  const float value_w = ImGui::CalcTextSize("100.00% | 100.00%").x + 10;
  const float label_w = 44;
  const float bar_w =
      std::clamp(ImGui::GetContentRegionAvail().x - label_w - value_w, 60.0f, 420.0f);
  ImDrawList* draw = ImGui::GetWindowDrawList();
  for (std::size_t l = 0; l < levels; ++l) {
    const double fma = r.exact->level_mass[static_cast<std::size_t>(r.at) * levels + l];
    const std::string name = level_short(static_cast<int>(l), r.job->method);
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const float h = ImGui::GetTextLineHeight();
    draw->AddText(p, IM_COL32(230, 230, 235, 255), name.c_str());
    const ImVec2 b0(p.x + label_w, p.y + 2), b1(b0.x + bar_w, p.y + h - 1);
    draw->AddRectFilled(b0, b1, IM_COL32(40, 40, 46, 255));
    draw->AddRectFilled(b0, ImVec2(b0.x + bar_w * static_cast<float>(fma), b1.y),
                        to_imu32(level_color(static_cast<int>(l))));
    draw->AddRect(ImVec2(b0.x, b0.y - 1),
                  ImVec2(b0.x + bar_w * static_cast<float>(full_mass[l]) + 1, b1.y + 1),
                  IM_COL32(235, 235, 240, 220));
    const std::string value =
        value_text("%.2f%%", 100 * fma) + " | " + value_text("%.2f%%", 100 * full_mass[l]);
    draw->AddText(ImVec2(b1.x + 6, p.y), IM_COL32(230, 230, 235, 255), value.c_str());
    ImGui::Dummy(ImVec2(label_w + bar_w + value_w, h + 3));
  }
}

void draw_metrics(const QueryRow& r) {
  const Inspection& in = *r.in;  // the head's means (over a pooled map's rows: block means)
  const Inspection& row = *r.exact;
  const std::size_t i = static_cast<std::size_t>(r.at);
  const std::string top_k = "top-" + std::to_string(InspectRequest{}.top_k) + " overlap";
  const char* kl = r.job->method == Method::fma ? "KL(full || FMA)" : "KL(full || peer)";
  ImGui::TextUnformatted("This query");
  ImGui::SameLine(150);
  ImGui::TextColored(kMuted, "head mean");
  const struct {
    const char* name;
    double value;
    const std::vector<double>& rows;
  } lines[] = {{"total variation", row.row_tv[i], in.row_tv},
               {kl, row.row_kl[i], in.row_kl},
               {top_k.c_str(), row.row_topk[i], in.row_topk}};
  for (const auto& line : lines) {  // NaN or Inf met on the way: "undefined" (source_finite.h)
    ImGui::TextColored(kMuted, "%s", line.name);
    ImGui::SameLine(150);
    if (std::isfinite(line.value)) {
      ImGui::Text("%.3e", line.value);
    } else {
      ImGui::TextUnformatted("undefined");
    }
    ImGui::SameLine(240);
    ImGui::TextColored(kMuted, "%s", mean_text("%.3e", line.rows).c_str());
  }
  ImGui::TextColored(kMuted, "head output rel. error %s", value_text("%.3e", in.output_rel_error).c_str());
}

// What the token or patch colours mean: a colour bar, or the levels' swatches.
void draw_color_key(const QueryRow& r, QueryColor color) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const float h = ImGui::GetTextLineHeight();
  if (color == QueryColor::level) {
    for (int l = -1; l <= r.in->num_levels; ++l) {
      const ImVec2 p = ImGui::GetCursorScreenPos();
      draw->AddRectFilled(ImVec2(p.x, p.y + 2), ImVec2(p.x + h - 4, p.y + h - 2),
                          to_imu32(l < 0 ? kMaskedColor : level_color(l)));
      ImGui::Dummy(ImVec2(h - 2, h));
      ImGui::SameLine();
      ImGui::TextColored(kMuted, "%s", level_short(l, r.job->method).c_str());
      ImGui::SameLine(0, 14);
    }
    return ImGui::NewLine();
  }
  constexpr int kSegments = 40;
  const float width = 160;
  const ImVec2 p = ImGui::GetCursorScreenPos();
  for (int i = 0; i < kSegments; ++i) {
    draw->AddRectFilled(ImVec2(p.x + width * i / kSegments, p.y + 3),
                        ImVec2(p.x + width * (i + 1) / kSegments, p.y + h - 2),
                        to_imu32(sequential_color((i + 0.5f) / kSegments, r.map)));
  }
  ImGui::Dummy(ImVec2(width, h));
  ImGui::SameLine();
  const char* what = color == QueryColor::fma ? method_title(r.job->method) : "full attention";
  if (r.scale == MapScale::log10) {
    ImGui::TextColored(kMuted, "%s probability, 1e%.0f .. 1 (log10)", what, r.floor);
  } else {
    ImGui::TextColored(kMuted, "%s probability, 0 .. %.2g (the row's max)", what, r.hi);
  }
}

// ---- header ----

void draw_header(Shared& shared, QueryPanel& query, const QueryRow& r, bool has_input) {
  int row = static_cast<int>(r.row);
  const int last = static_cast<int>(r.in->rows - 1);
  ImGui::PushItemWidth(120);
  // A query chosen here is no longer the one whose map cell was clicked.
  if (ImGui::InputInt("##query", &row)) shared.query_row = std::clamp(row, 0, last), shared.query_key = -1;
  ImGui::PopItemWidth();
  ImGui::SameLine();
  ImGui::PushItemWidth(std::max(80.0f, ImGui::GetContentRegionAvail().x - 70));
  if (ImGui::SliderInt("query", &row, 0, last)) shared.query_row = row, shared.query_key = -1;
  ImGui::PopItemWidth();
  const MapJob& job = shared.maps.shown;
  if (!job.params.model.empty()) {
    ImGui::Text("layer %d  head %d   ", job.params.layer, job.params.head);
    ImGui::SameLine(0, 0);
  }
  // The query by its index (and its token or patch where it has one); the key clicked on a map.
  const std::string token = key_name(r, r.row);
  std::string title = "query " + std::to_string(r.row);
  if (token.rfind("key ", 0) != 0) title += ": " + token;
  if (shared.query_key >= 0 && shared.query_key < r.in->cols) title += "   clicked key: " + key_name(r, shared.query_key);
  ImGui::Text("%s   n = %lld", title.c_str(), static_cast<long long>(job.tokens));
  if (has_input) {
    ImGui::SameLine(0, 30);
    ImGui::TextUnformatted("colour by");
    const std::pair<QueryColor, const char*> choices[] = {
        {QueryColor::fma, method_title(job.method)}, {QueryColor::full, "full"}, {QueryColor::level, "level"}};
    for (const auto& [color, name] : choices) {
      ImGui::SameLine();
      if (ImGui::RadioButton(name, query.color == color)) query.color = color;
    }
  }
  if (maps_busy(shared)) {
    ImGui::SameLine(0, 30);
    ImGui::TextColored(kBusy, "computing...");
  }
}

}  // namespace

// ---- public ----

// The tooltip of one key of the row.
void key_tooltip(const QueryRow& r, std::int64_t key) {
  const std::pair<const char*, std::string> lines[] = {
      {"full", value_text("%.3e", r.full[key])},
      {method_title(r.job->method), value_text("%.3e", r.fma[key])},
      {"level", level_label(r.level[key], r.job->method, r.job->fma)}};
  ImGui::BeginTooltip();
  ImGui::TextUnformatted(key_name(r, key).c_str());
  const float column = ImGui::CalcTextSize(method_title(r.job->method)).x + 16;
  for (const auto& [label, value] : lines) {
    ImGui::TextColored(kMuted, "%s", label);
    ImGui::SameLine(std::max(60.0f, column));
    ImGui::TextUnformatted(value.c_str());
  }
  ImGui::EndTooltip();
}

Rgba8 key_color(const QueryRow& r, std::int64_t key, QueryColor color) {
  if (r.level[key] < 0) return kMaskedColor;
  if (color == QueryColor::level) return level_color(r.level[key]);
  return sequential_color(position(color == QueryColor::fma ? r.fma[key] : r.full[key], r), r.map);
}

void draw_query_view(Shared& shared, QueryPanel& query) {
  const MapJob& shown = shared.maps.shown;
  if (!shared.maps.has_shown) {
    ImGui::TextColored(kBusy, "computing...");
    return;
  }
  if (!shown.error.empty() || !shown.inspection || shown.inspection->rows < 1) {
    ImGui::TextColored(kErrorColor, "no attention to inspect: %s",
                       shown.error.substr(0, shown.error.find('\n')).c_str());
    return;
  }
  QueryRow r;
  try {
    r = row_of(shared, query, query_row(shared));
  } catch (const std::exception& e) {  // fmav::Error, or out of memory
    ImGui::TextColored(kErrorColor, "cannot compute query %lld: %s", static_cast<long long>(query_row(shared)), e.what());
    return;
  }
  const bool text = !shown.text.empty() || !shown.pieces.empty(), image = shown.image != nullptr;
  draw_header(shared, query, r, text || image);
  const float avail = ImGui::GetContentRegionAvail().y;
  draw_plot(r, std::max(160.0f, (text || image ? 0.42f : 0.6f) * avail));
  ImGui::Separator();
  ImGui::BeginChild("levels", ImVec2(text || image ? 390.0f : 0.0f, 0), false);
  draw_level_mass(r);
  ImGui::Spacing();
  draw_metrics(r);
  if (shown.segments) draw_segment_legend(*shown.segments, ImGui::GetContentRegionAvail().y - 3 * ImGui::GetTextLineHeightWithSpacing());
  ImGui::EndChild();
  if (!text && !image) return;
  ImGui::SameLine();
  ImGui::BeginChild("input", ImVec2(0, 0), false);
  draw_color_key(r, query.color);
  if (text) draw_tokens(shared, query, r);
  if (image) draw_image(shared, query, r);
  ImGui::EndChild();
}

void release_query(QueryPanel& query) {
  texture_destroy(query.image_texture);
  query.image_texture = 0;
  query.texture_image.reset();
}

}  // namespace fmav::viewer
