// The plot widget drawn with ImGui (plot.h): the shapes of plot_layout.h on the window's
// draw list, and the mouse: hover readout, wheel zoom about the cursor (over an axis' labels:
// that axis only), drag pan, double-click fit, clicks on points, cells and legend entries.

#include "plot.h"
#include "plot_layout.h"

#include <imgui.h>
#include <imgui_internal.h>  // SetItemUsingMouseWheel: the wheel zooms instead of scrolling

#include <algorithm>
#include <cmath>

namespace fmav::viewer {
namespace {

constexpr float kHoverRadius = 8;   // pixels from a point that still hover it
constexpr float kWheelZoom = 1.25;  // per wheel notch

ImU32 to_imgui(Rgba8 c) { return IM_COL32(c.r, c.g, c.b, c.a); }
ImVec2 to_imgui(PlotPoint p) { return ImVec2(p.x, p.y); }

// A polyline in dashes of 6 on, 4 off pixels, the pattern running on across vertices.
void draw_dashed(ImDrawList* draw, const std::vector<PlotPoint>& points, ImU32 color, float width) {
  constexpr float kOn = 6, kPeriod = 10;
  float phase = 0;
  for (std::size_t i = 1; i < points.size(); ++i) {
    const PlotPoint a = points[i - 1], b = points[i];
    const float length = std::hypot(b.x - a.x, b.y - a.y);
    for (float t = 0; t < length;) {
      const float in_period = std::fmod(phase + t, kPeriod);
      const float run = std::min(length - t, in_period < kOn ? kOn - in_period : kPeriod - in_period);
      if (in_period < kOn) {
        const float u0 = t / length, u1 = (t + run) / length;
        draw->AddLine(ImVec2(a.x + u0 * (b.x - a.x), a.y + u0 * (b.y - a.y)),
                      ImVec2(a.x + u1 * (b.x - a.x), a.y + u1 * (b.y - a.y)), color, width);
      }
      t += std::max(run, 1e-3f);
    }
    phase = std::fmod(phase + length, kPeriod);
  }
}

void draw_shape(ImDrawList* draw, const PlotShape& s) {
  const ImU32 color = to_imgui(s.color);
  const ImVec2 a = to_imgui(s.points.at(0));
  switch (s.kind) {
    case PlotShape::Kind::polyline:
      if (s.dashed) {
        draw_dashed(draw, s.points, color, s.width);
      } else {
        std::vector<ImVec2> points(s.points.size());
        std::transform(s.points.begin(), s.points.end(), points.begin(), [](PlotPoint p) { return to_imgui(p); });
        draw->AddPolyline(points.data(), static_cast<int>(points.size()), color, ImDrawFlags_None, s.width);
      }
      return;
    case PlotShape::Kind::rect: draw->AddRect(a, to_imgui(s.points.at(1)), color, 0, 0, s.width); return;
    case PlotShape::Kind::fill_rect: draw->AddRectFilled(a, to_imgui(s.points.at(1)), color); return;
    case PlotShape::Kind::circle: draw->AddCircle(a, s.width, color, 0, 1.5f); return;
    case PlotShape::Kind::fill_circle: draw->AddCircleFilled(a, s.width, color); return;
    case PlotShape::Kind::fill_triangle:
      draw->AddTriangleFilled(a, to_imgui(s.points.at(1)), to_imgui(s.points.at(2)), color);
      return;
    case PlotShape::Kind::text: {
      const float width = ImGui::CalcTextSize(s.text.c_str()).x;
      draw->AddText(ImVec2(std::round(a.x - s.align * width), std::round(a.y)), color, s.text.c_str());
      return;
    }
  }
}

void draw_shapes(const std::vector<PlotShape>& shapes, const PlotLayout& layout) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  draw->PushClipRect(ImVec2(layout.frame.x0, layout.frame.y0), ImVec2(layout.frame.x1, layout.frame.y1), true);
  bool clipped = false;
  for (const PlotShape& s : shapes) {
    if (s.clip != clipped) {
      const PlotRect& a = layout.area;
      if (s.clip) draw->PushClipRect(ImVec2(a.x0, a.y0), ImVec2(a.x1 + 1, a.y1 + 1), true);
      else draw->PopClipRect();
      clipped = s.clip;
    }
    draw_shape(draw, s);
  }
  if (clipped) draw->PopClipRect();
  draw->PopClipRect();
}

// The shown point nearest the mouse within kHoverRadius, or the heat-map cell under it.
PlotHit hit_at(const PlotSpec& spec, const PlotState& state, const PlotLayout& layout, ImVec2 mouse) {
  PlotHit hit;
  if (heat_cell_at(spec, layout, mouse.x, mouse.y, &hit.row, &hit.col)) return hit;
  float best = kHoverRadius * kHoverRadius;
  const auto consider = [&](PlotPoint p, int series, int point, bool edge) {
    const float d = (p.x - mouse.x) * (p.x - mouse.x) + (p.y - mouse.y) * (p.y - mouse.y);
    if (d <= best && layout.area.contains(p.x, p.y)) best = d, hit = {series, point, edge, -1, -1};
  };
  for (int i = 0; i < static_cast<int>(spec.series.size()); ++i) {
    const Series& s = spec.series[i];
    if (series_hidden(state, s.name) || s.marker == Marker::none) continue;  // lines alone: references
    for (std::size_t k = 0; k < std::min(s.x.size(), s.y.size()); ++k) {
      consider(to_screen(layout, s.x[k], s.y[k]), i, static_cast<int>(k), false);
    }
    for (std::size_t k = 0; k < s.edge_x.size(); ++k) {
      consider(edge_point(layout, s, k), i, static_cast<int>(k), true);
    }
  }
  return hit;
}

// "N = 4096": whole numbers (counts) in full, others to four digits ("latency = 1.12 ms").
std::string readout_line(const PlotAxisSpec& axis, const char* fallback, double v) {
  const bool whole = v == std::round(v) && std::abs(v) < 1e9 && !axis.format.metric_prefixes;
  const std::string unit = axis.format.unit.empty() ? "" : " " + axis.format.unit;
  const std::string value =
      whole ? std::to_string(static_cast<long long>(v)) + unit : format_value(v, axis.format, 4);
  return (axis.title.empty() ? fallback : axis.title) + " = " + value;
}

void draw_tooltip(const PlotSpec& spec, const PlotHit& hit) {
  ImGui::BeginTooltip();
  if (hit.row >= 0) {
    const HeatMap& map = spec.heat_map;
    const auto label = [](const std::vector<std::string>& labels, int i) {
      return i < static_cast<int>(labels.size()) ? labels[i] : std::to_string(i);
    };
    const std::string col = label(map.col_labels, hit.col), row = label(map.row_labels, hit.row);
    ImGui::Text("%s = %s, %s = %s", spec.x.title.empty() ? "column" : spec.x.title.c_str(), col.c_str(),
                spec.y.title.empty() ? "row" : spec.y.title.c_str(), row.c_str());
    const std::size_t i = static_cast<std::size_t>(hit.row) * map.cols + hit.col;
    const double v = i < map.values.size() ? map.values[i] : NAN;
    ImGui::TextUnformatted(std::isnan(v) ? "missing" : format_value(v, map.value_format, 4).c_str());
  } else {
    const Series& s = spec.series[hit.series];
    const Rgba8 c = series_color(spec, hit.series);
    ImGui::TextColored(ImVec4(c.r / 255.0f, c.g / 255.0f, c.b / 255.0f, 1), "%s", s.name.c_str());
    if (hit.edge) {
      ImGui::Text("%s: %s", readout_line(spec.x, "x", s.edge_x[hit.point]).c_str(), s.edge_label.c_str());
    } else {
      ImGui::TextUnformatted(readout_line(spec.x, "x", s.x[hit.point]).c_str());
      ImGui::TextUnformatted(readout_line(spec.y, "y", s.y[hit.point]).c_str());
    }
  }
  ImGui::EndTooltip();
}

// The legend row under the mouse, or -1.
int legend_row_at(const PlotLayout& layout, ImVec2 mouse) {
  for (std::size_t k = 0; k < layout.legend_rows.size(); ++k) {
    if (layout.legend_rows[k].contains(mouse.x, mouse.y)) return static_cast<int>(k);
  }
  return -1;
}

void toggle_hidden(PlotState& state, const std::string& name) {
  const auto it = std::find(state.hidden.begin(), state.hidden.end(), name);
  if (it == state.hidden.end()) state.hidden.push_back(name);
  else state.hidden.erase(it);
}

// Wheel zoom and drag pan (not on heat maps); whether the view changed.
bool zoom_and_pan(const PlotSpec& spec, PlotState& state, const PlotLayout& layout, bool hovered) {
  if (spec.heat_map.rows * spec.heat_map.cols > 0) return false;
  const ImGuiIO& io = ImGui::GetIO();
  const PlotRect& a = layout.area;
  const float w = a.x1 - a.x0, h = a.y1 - a.y0;
  bool changed = false;
  if (hovered && io.MouseWheel != 0) {
    const float fx = (io.MousePos.x - a.x0) / w, fy = (a.y1 - io.MousePos.y) / h;
    const double factor = std::pow(kWheelZoom, io.MouseWheel);
    if (io.MousePos.y <= a.y1) zoom_axis(state.y, fy, factor);  // not over the x labels
    if (io.MousePos.x >= a.x0) zoom_axis(state.x, fx, factor);  // not over the y labels
    changed = true;
  }
  if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 3)) {
    pan_axis(state.x, -io.MouseDelta.x / w);
    pan_axis(state.y, io.MouseDelta.y / h);
    state.dragged = changed = true;
  }
  if (changed) state.auto_fit = false;
  return changed;
}

}  // namespace

PlotHit draw_plot(const char* id, const PlotSpec& spec, PlotState& state, float width, float height) {
  ImGui::PushID(id);
  const ImVec2 available = ImGui::GetContentRegionAvail();
  if (width <= 0) width = std::max(available.x, 120.0f);
  if (height <= 0) height = available.y >= 120 ? available.y : 300;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("plot", ImVec2(width, height));
  if (spec.heat_map.rows * spec.heat_map.cols == 0) ImGui::SetItemUsingMouseWheel();
  const bool hovered = ImGui::IsItemHovered();
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const TextMetrics text{[](const std::string& s) { return ImGui::CalcTextSize(s.c_str()).x; },
                         ImGui::GetTextLineHeight()};
  state.rect = {origin.x, origin.y, origin.x + width, origin.y + height};

  if (ImGui::IsItemActivated()) state.dragged = false;
  if (hovered && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) state.auto_fit = true;
  prepare_view(spec, state);
  PlotLayout layout = layout_plot(spec, state, state.rect, text);
  if (zoom_and_pan(spec, state, layout, hovered)) layout = layout_plot(spec, state, state.rect, text);

  PlotHit clicked;
  state.hovered = hovered && !state.dragged ? hit_at(spec, state, layout, mouse) : PlotHit{};
  const int legend_row = hovered ? legend_row_at(layout, mouse) : -1;
  if (legend_row >= 0) state.hovered = {};
  if (ImGui::IsItemDeactivated() && !state.dragged && state.rect.contains(mouse.x, mouse.y)) {
    if (legend_row >= 0) toggle_hidden(state, spec.series[layout.legend_series[legend_row]].name);
    else clicked = state.hovered;
  }
  draw_shapes(plot_shapes(spec, state, layout, dark_plot_theme(), text), layout);
  if (state.hovered.series >= 0) {
    const Series& s = spec.series[state.hovered.series];
    const int k = state.hovered.point;
    const PlotPoint p = state.hovered.edge ? edge_point(layout, s, k) : to_screen(layout, s.x[k], s.y[k]);
    ImGui::GetWindowDrawList()->AddCircle(ImVec2(p.x, p.y), s.marker_size + 4, IM_COL32(255, 255, 255, 220), 0, 1.5f);
  }
  if (state.hovered.any()) draw_tooltip(spec, state.hovered);
  if (legend_row >= 0) ImGui::SetTooltip("click to show or hide");
  ImGui::PopID();
  return clicked;
}

PlotRect plot_framebuffer_rect(const PlotState& state) {
  const ImVec2 scale = ImGui::GetIO().DisplayFramebufferScale;
  return {state.rect.x0 * scale.x, state.rect.y0 * scale.y, state.rect.x1 * scale.x, state.rect.y1 * scale.y};
}

}  // namespace fmav::viewer
